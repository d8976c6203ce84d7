#!/usr/bin/env node
/** `postern-delivery [--config FILE]`: runs the delivery agent until SIGTERM/SIGINT. */
import { runApp } from '@postern/core';
import { withMetrics } from '@postern/metrics';
import { start } from './index.js';

runApp('delivery', withMetrics('delivery', start));
