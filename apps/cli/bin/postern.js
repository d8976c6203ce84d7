#!/usr/bin/env node
// The `postern` command: a fixed launcher so npm can link it before the TypeScript is built.
import '../dist/main.js';
