#!/usr/bin/env node
// postern-webmail: `node dist/main.js --config postern.toml` (what `postern start` runs).
import { runApp } from '@postern/core';
import { withMetrics } from '@postern/metrics';
import { start } from './index.js';

runApp('webmail', withMetrics('webmail', start));
