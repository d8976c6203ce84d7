// A second process on the same mail.db (argv[2] = data dir): it delivers through the store as a
// delivery agent would, so the IMAP server's process learns of the commit only as a change made
// by another process. On 'deliver' it stores one message for argv[3] and answers
// { committed: <ms since epoch after COMMIT>, uid }. Uses the built packages (npm test builds first).
import { join } from 'node:path';
import { configFromObject, openMailDb } from '@postern/core';
import { indexMessage } from '@postern/mime';

const [dir, address] = process.argv.slice(2);
const config = configFromObject({ hostname: 'mail.example.test', data_dir: dir }, join(dir, 'postern.toml'));
const mail = openMailDb(config);
const user = mail.accounts.findUser(address);
let n = 0;
process.on('message', async (m) => {
  if (m === 'stop') {
    mail.close();
    process.exit(0);
  }
  if (m !== 'deliver') return;
  n++;
  const content = Buffer.from(
    `From: Other Process <other@example.org>\r\nTo: ${address}\r\nSubject: from another process ${n}\r\n` +
      `Message-ID: <p${process.pid}.${n}@example.org>\r\n\r\nDelivered by process ${process.pid}.\r\n`,
  );
  const [out] = await mail.store.deliver([{ userId: user.id, prefix: Buffer.alloc(0), content, index: indexMessage(content) }]);
  process.send({ committed: Date.now(), uid: out.ok ? out.uid : 0 });
});
process.send({ ready: true });
