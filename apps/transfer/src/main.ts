#!/usr/bin/env node
/** `postern-transfer [--config FILE]`: runs the transfer app until SIGTERM/SIGINT (in-flight work finishes). */
import { runApp } from '@postern/core';
import { withMetrics } from '@postern/metrics';
import { start } from './index.js';

runApp('transfer', withMetrics('transfer', start));
