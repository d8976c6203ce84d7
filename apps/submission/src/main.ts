#!/usr/bin/env node
/** `postern-submission [--config FILE]`: runs the submission app until SIGTERM/SIGINT (in-flight work finishes). */
import { runApp } from '@postern/core';
import { withMetrics } from '@postern/metrics';
import { start } from './index.js';

runApp('submission', withMetrics('submission', start));
