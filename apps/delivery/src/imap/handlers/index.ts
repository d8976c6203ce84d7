/** The table from command name to handler: the only place a command meets its code. */
import type { CommandName, CommandOf } from '@postern/imap';
import type { Reply } from '../reply.js';
import type { ImapSession } from '../session.js';
import { cmdCapability, cmdEnable, cmdId, cmdLogout, cmdNamespace, cmdNoop } from './any.js';
import { cmdAppend } from './append.js';
import { cmdAuthenticate, cmdLogin, cmdStarttls } from './auth.js';
import { cmdFetch } from './fetch.js';
import { cmdIdle } from './idle.js';
import { cmdCreate, cmdDelete, cmdList, cmdLsub, cmdRename, cmdStatus, cmdSubscribe } from './mailboxes.js';
import { cmdCopyMove, cmdExpunge, cmdStore } from './messages.js';
import { cmdSearch } from './search.js';
import { cmdClose, cmdSelect, cmdUnselect } from './select.js';

type Handler<N extends CommandName> = (s: ImapSession, c: CommandOf<N>) => Promise<Reply> | Reply;

export const HANDLERS: { readonly [N in CommandName]: Handler<N> } = {
  CAPABILITY: cmdCapability,
  NOOP: cmdNoop,
  CHECK: cmdNoop,
  LOGOUT: cmdLogout,
  ID: cmdId,
  STARTTLS: cmdStarttls,
  LOGIN: cmdLogin,
  AUTHENTICATE: cmdAuthenticate,
  ENABLE: cmdEnable,
  NAMESPACE: cmdNamespace,
  SELECT: cmdSelect,
  EXAMINE: cmdSelect,
  CREATE: cmdCreate,
  DELETE: cmdDelete,
  RENAME: cmdRename,
  SUBSCRIBE: cmdSubscribe,
  UNSUBSCRIBE: cmdSubscribe,
  LIST: cmdList,
  LSUB: cmdLsub,
  STATUS: cmdStatus,
  APPEND: cmdAppend,
  IDLE: cmdIdle,
  CLOSE: cmdClose,
  UNSELECT: cmdUnselect,
  EXPUNGE: cmdExpunge,
  SEARCH: cmdSearch,
  FETCH: cmdFetch,
  STORE: cmdStore,
  COPY: cmdCopyMove,
  MOVE: cmdCopyMove,
};
