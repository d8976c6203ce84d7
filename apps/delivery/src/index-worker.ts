/**
 * The thread side of the index pool (index-pool.ts): indexes the messages it is sent, one at a
 * time. The message arrives in a SharedArrayBuffer (no copy here); the index goes back by
 * structured clone.
 */
import { parentPort } from 'node:worker_threads';
import { indexMessage } from '@postern/mime';

interface Job {
  id: number;
  raw: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error('index-worker runs as a worker thread');
port.on('message', (job: Job) => {
  port.postMessage({ id: job.id, index: indexMessage(Buffer.from(job.raw)) });
});
