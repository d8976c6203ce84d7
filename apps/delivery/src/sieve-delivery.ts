/**
 * Sieve at delivery (RFC 5228 §2.10): for each local user a message reaches, the user's active
 * script decides where it is stored, what is forwarded and what is answered. The durability
 * rule is the LMTP server's: `deliver` resolves only after every redirect and vacation reply is
 * in queue.db and every keep/fileinto is committed in mail.db, so a 250 loses nothing.
 *
 * Order: run every script (CPU only, bounded by the step budget), queue what goes out (a crash
 * after that and before the store commit forwards twice rather than never), commit the stores,
 * then remember what was answered (vacation) and seen (duplicate).
 *
 * A script that fails (a limit reached, a missing include) is logged and the message kept in
 * INBOX; the user gets one notice in INBOX per new error, and the error stays on the script row
 * (`postern sieve list`, the webmail) until the script is replaced.
 *
 * Forwarding (redirect) to another domain leaves with an SRS envelope sender and an ARC seal
 * over the Authentication-Results our MX wrote; mail judged junk is never forwarded, nor mail
 * that already passed through this recipient (Delivered-To) or through too many hops.
 */
import type { Accounts, Config, DeliveryOutcome, DeliveryRequest, Logger, MailStore, NewMessage, QueueStore, SieveScripts, User } from '@postern/core';
import { formatAddress, loadSrsSecret, newId, parseAddress, Srs } from '@postern/core';
import type { IndexedMessage } from '@postern/mime';
import {
  compile,
  execute,
  vacationKey,
  vacationRefusal,
  vacationReply,
  type CompiledScript,
  type SieveAction,
  type SieveEnvironment,
  type SieveResult,
} from '@postern/sieve';
import { arcSeal, signLocalMessage } from '@postern/trust';
import type { MessageIndexer } from './index-pool.js';
import { sieveLimits } from './sieve-limits.js';
import { rebuild, sieveMessage, type DeliveredMessage } from './sieve-message.js';

export interface SieveTarget {
  user: User;
  rcpt: string;
}

export interface Arrival {
  qid: string;
  cid: string;
  content: Buffer;
  index: IndexedMessage;
  /** Envelope sender; '' for the null reverse-path. */
  from: string;
  junk: boolean;
  envid?: string;
  /** The fields prepended for one recipient (Return-Path, Delivered-To). */
  prefix(rcpt: string): Buffer;
}

export interface TargetResult {
  /** The store's answers for what this target kept (none for discard or a redirect alone). */
  outcomes: DeliveryOutcome[];
  /** RFC 5429: the script refused the message (LMTP 550 5.7.1 with this text). */
  rejected: string | null;
}

export interface SieveDeliveryOptions {
  config: Config;
  logger: Logger;
  /** Without scripts every message goes where it went before Sieve: INBOX, or Junk. */
  scripts?: SieveScripts | null;
  store?: MailStore;
  accounts?: Accounts;
  /** Where redirects and vacation replies go; without it a script that sends fails (and keeps). */
  queue?: QueueStore | null;
  indexer: MessageIndexer;
}

interface Plan {
  requests: DeliveryRequest[];
  outgoing: NewMessage[];
  vacation: { key: string; seconds: number } | null;
  duplicates: SieveResult['duplicates'];
  rejected: string | null;
  script: string | null;
}

/** Compiled scripts kept, by user (a script changes rarely, messages arrive often). */
const CACHE_SIZE = 1000;

export class SieveDelivery {
  private readonly cache = new Map<number, { name: string; updated: number; compiled: CompiledScript }>();
  private srs: Srs | null = null;

  constructor(private readonly opts: SieveDeliveryOptions) {}

  private limits() {
    return sieveLimits(this.opts.config);
  }

  /**
   * One result per target, in order, once everything is queued and committed; `aliases` are the
   * recipients that also forward to outside addresses (accounts' alias forwards): one refusal
   * (or null when queued) each. Throws when storage or the queue fails.
   */
  async deliver(
    a: Arrival,
    targets: readonly SieveTarget[],
    commit: (r: DeliveryRequest[]) => Promise<DeliveryOutcome[]>,
    aliases: ReadonlyArray<{ rcpt: string; forwards: readonly string[] }> = [],
  ): Promise<{ targets: TargetResult[]; aliases: Array<string | null> }> {
    let message: DeliveredMessage | null = null;
    const lazyMessage = (): DeliveredMessage => {
      message ??= sieveMessage(a.content, a.index);
      return message;
    };
    const plans: Plan[] = [];
    for (const t of targets) plans.push(await this.plan(a, t, lazyMessage));
    const aliasOut: NewMessage[] = [];
    const aliasResults: Array<string | null> = [];
    for (const al of aliases) {
      const why = this.refuseAliasForward(a, al.rcpt, lazyMessage());
      if (why) {
        this.opts.logger.info({ cid: a.cid, qid: a.qid, rcpt: al.rcpt, why }, 'alias forward not made');
        aliasResults.push(why);
        continue;
      }
      const domain = al.rcpt.slice(al.rcpt.lastIndexOf('@') + 1).toLowerCase();
      for (const f of al.forwards) aliasOut.push(await this.forward(a, al.rcpt, domain, f, a.content));
      aliasResults.push(null);
    }
    const { queue } = this.opts;
    const outgoing = [...aliasOut, ...plans.flatMap((p) => p.outgoing)];
    if (outgoing.length > 0) {
      if (!queue) throw new Error('a script sent mail but the delivery agent has no queue');
      await Promise.all(outgoing.map((m) => queue.enqueue(m)));
      for (const m of outgoing) {
        this.opts.logger.info(
          { mail: 'queued', cid: a.cid, qid: a.qid, id: m.id, from: m.sender, to: m.recipients.map((r) => r.address), origin: 'sieve' },
          'queued by sieve',
        );
      }
    }
    const all = plans.flatMap((p) => p.requests);
    const outcomes = all.length > 0 ? await commit(all) : [];
    const results: TargetResult[] = [];
    let i = 0;
    for (const [k, p] of plans.entries()) {
      const mine = outcomes.slice(i, i + p.requests.length);
      i += p.requests.length;
      results.push({ outcomes: mine, rejected: p.rejected });
      const user = targets[k]!.user;
      const scripts = this.opts.scripts;
      if (!scripts) continue;
      try {
        if (p.vacation) await scripts.recordVacation(user.id, p.vacation.key, p.vacation.seconds);
        if (p.duplicates.length > 0) await scripts.recordDuplicates(user.id, p.duplicates);
      } catch (err) {
        // what is remembered only spares a second reply; the mail itself is safe
        this.opts.logger.warn({ err, qid: a.qid, to: user.address }, 'sieve: could not remember a vacation reply or duplicate');
      }
    }
    return { targets: results, aliases: aliasResults };
  }

  private refuseAliasForward(a: Arrival, rcpt: string, message: DeliveredMessage): string | null {
    if (a.junk) return 'judged spam by the junk filter, not forwarded';
    const me = rcpt.toLowerCase();
    if (message.headers.some((h) => h.name.toLowerCase() === 'delivered-to' && h.value.replace(/[<>]/g, '').trim().toLowerCase() === me)) {
      return 'a forwarding loop (Delivered-To)';
    }
    const hops = message.headers.filter((h) => h.name.toLowerCase() === 'received').length;
    if (hops >= this.opts.config.transfer.max_hops) return 'too many hops: a forwarding loop';
    return null;
  }

  private defaultRequest(a: Arrival, t: SieveTarget, n = 0): DeliveryRequest {
    return {
      userId: t.user.id,
      prefix: a.prefix(t.rcpt),
      ...(a.junk ? { mailbox: 'Junk' } : {}),
      content: a.content,
      index: a.index,
      // one key per stored copy: a second fileinto of a replayed hand-over is not a duplicate of the first
      ...(a.envid ? { deliveryKey: n === 0 ? a.envid : `${a.envid}#${n}` } : {}),
    };
  }

  private async compiled(userId: number): Promise<{ name: string; compiled: CompiledScript; lastError: string | null } | null> {
    const scripts = this.opts.scripts;
    if (!scripts) return null;
    const active = await scripts.active(userId);
    if (!active) {
      this.cache.delete(userId);
      return null;
    }
    const hit = this.cache.get(userId);
    if (hit && hit.name === active.name && hit.updated === active.updated) return { ...hit, lastError: active.lastError };
    const compiled = compile(active.content, this.limits());
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(userId, { name: active.name, updated: active.updated, compiled });
    return { name: active.name, compiled, lastError: active.lastError };
  }

  private async plan(a: Arrival, t: SieveTarget, message: () => DeliveredMessage): Promise<Plan> {
    const plan: Plan = { requests: [], outgoing: [], vacation: null, duplicates: [], rejected: null, script: null };
    const log = this.opts.logger;
    let script: Awaited<ReturnType<SieveDelivery['compiled']>> = null;
    try {
      script = await this.compiled(t.user.id);
    } catch (err) {
      // stored before a limit was lowered, say: keep, and tell the user
      const active = await this.opts.scripts?.active(t.user.id);
      await this.failed(a, t, plan, active?.name ?? '', active?.lastError ?? null, err);
      return plan;
    }
    if (script === null) {
      plan.requests.push(this.defaultRequest(a, t));
      return plan;
    }
    plan.script = script.name;
    const limits = this.limits();
    let result: SieveResult;
    let userScripts: Map<string, CompiledScript> | null = null;
    const env: SieveEnvironment = {
      envelope: { from: a.from, to: t.rcpt },
      localZone: -new Date().getTimezoneOffset(),
      // RFC 5235: the junk filter's verdict on its 1..10 scale (it gives no finer score yet)
      spam: a.junk ? { value: 10, percent: 100 } : { value: 1, percent: 0 },
      mailboxExists: (name) => this.opts.store?.mailbox(t.user.id, name) != null,
      duplicateSeen: (id) => this.opts.scripts?.duplicateSeen(t.user.id, id) ?? false,
      include: (name, location) => (location === 'personal' ? (userScripts?.get(name) ?? null) : null),
    };
    try {
      if (script.compiled.requires.has('include')) userScripts = await this.includable(t.user.id);
      result = execute(script.compiled, message(), env, limits);
    } catch (err) {
      await this.failed(a, t, plan, script.name, script.lastError, err);
      return plan;
    }
    plan.duplicates = result.duplicates;
    try {
      await this.apply(a, t, plan, result.actions, message());
    } catch (err) {
      plan.requests = [];
      plan.outgoing = [];
      plan.vacation = null;
      plan.rejected = null;
      await this.failed(a, t, plan, script.name, script.lastError, err);
      return plan;
    }
    if (script.lastError !== null) await this.opts.scripts?.recordError(t.user.id, script.name, null);
    log.info({ cid: a.cid, qid: a.qid, to: t.user.address, script: script.name, steps: result.steps, actions: result.actions.map((x) => x.type) }, 'sieve ran');
    return plan;
  }

  /** Every script of the user compiled, for include (RFC 6609 §3.2: :personal scripts only). */
  private async includable(userId: number): Promise<Map<string, CompiledScript>> {
    const out = new Map<string, CompiledScript>();
    const scripts = this.opts.scripts!;
    for (const info of (await scripts.list(userId)).slice(0, this.limits().maxIncludes + 1)) {
      const s = await scripts.get(userId, info.name);
      if (!s) continue;
      try {
        out.set(s.name, compile(s.content, this.limits()));
      } catch {
        // a broken script is "missing" to include: the run fails with a clear error
      }
    }
    return out;
  }

  private async apply(a: Arrival, t: SieveTarget, plan: Plan, actions: readonly SieveAction[], message: DeliveredMessage): Promise<void> {
    const log = this.opts.logger;
    let copies = 0;
    let dropped = false;
    let kept = false;
    for (const act of actions) {
      switch (act.type) {
        case 'keep':
        case 'fileinto': {
          const mailbox = act.type === 'keep' ? (act.implicit && a.junk ? 'Junk' : null) : act.mailbox;
          const req = this.defaultRequest(a, t, copies++);
          delete req.mailbox;
          if (mailbox !== null && mailbox.toUpperCase() !== 'INBOX') {
            req.mailbox = mailbox;
            if (act.type === 'fileinto' && act.create && this.opts.store && !(await this.opts.store.mailbox(t.user.id, mailbox))) {
              try {
                await this.opts.store.createMailbox(t.user.id, mailbox);
              } catch (err) {
                log.warn({ qid: a.qid, to: t.user.address, mailbox, err: (err as Error).message }, 'sieve: fileinto :create failed, filed in INBOX');
                delete req.mailbox;
              }
            }
          }
          if (act.flags.length > 0) req.flags = act.flags;
          if (act.headers && message.complete) {
            const edited = await this.opts.indexer.index(rebuild(message, a.content, act.headers));
            req.content = edited.raw;
            req.index = edited.index;
          }
          plan.requests.push(req);
          kept = true;
          break;
        }
        case 'discard':
          break;
        case 'reject':
          plan.rejected = act.reason.replace(/[\r\n]+/g, ' ').slice(0, 400) || 'rejected by the recipient';
          break;
        case 'redirect': {
          const why = this.refuseForward(a, t, message);
          if (why) {
            log.info({ qid: a.qid, to: t.user.address, target: act.address, why }, 'sieve: redirect not made');
            if (!act.copy) dropped = true;
            break;
          }
          const domain = t.user.address.slice(t.user.address.lastIndexOf('@') + 1);
          plan.outgoing.push(
            await this.forward(a, t.rcpt, domain, act.address, act.headers && message.complete ? rebuild(message, a.content, act.headers) : a.content),
          );
          break;
        }
        case 'vacation': {
          const reply = await this.vacation(a, t, act, message);
          if (reply) {
            plan.outgoing.push(reply.message);
            plan.vacation = { key: reply.key, seconds: act.seconds };
          }
          break;
        }
      }
    }
    // a forward that was not made must not lose the message it replaced
    if (dropped && !kept) plan.requests.push(this.defaultRequest(a, t, copies++));
  }

  /** Why a redirect is not made; null when it may be. */
  private refuseForward(a: Arrival, t: SieveTarget, message: DeliveredMessage): string | null {
    if (a.junk) return 'the message was judged junk';
    const me = t.rcpt.toLowerCase();
    const delivered = message.headers.filter((h) => h.name.toLowerCase() === 'delivered-to').map((h) => h.value.replace(/[<>]/g, '').trim().toLowerCase());
    if (delivered.includes(me) || delivered.includes(t.user.address.toLowerCase())) return 'a loop: the message was delivered to this recipient before';
    const hops = message.headers.filter((h) => h.name.toLowerCase() === 'received').length;
    if (hops >= this.opts.config.transfer.max_hops) return `${hops} Received fields: too many hops`;
    return null;
  }

  private isLocal(address: string): boolean {
    try {
      return (this.opts.accounts?.resolve(parseAddress(address)).kind ?? 'not-local') !== 'not-local';
    } catch {
      return false;
    }
  }

  /** A forward of `content` (received for `rcpt`) to `target`; `domain` signs the seal and the SRS address. */
  private async forward(a: Arrival, rcpt: string, domain: string, target: string, content: Buffer): Promise<NewMessage> {
    const { config } = this.opts;
    const id = newId();
    const local = this.isLocal(target);
    // Delivered-To first: the loop check of the next hop, as Postfix's local(8) writes it
    const trace = Buffer.from(
      `Delivered-To: ${formatAddress(parseAddress(rcpt))}\r\nReceived: by ${config.hostname} (Postern) with Sieve redirect id ${id}\r\n\tfor <${target}>; ${new Date().toUTCString().replace(/GMT$/, '+0000')}\r\n`,
    );
    let data: Buffer = Buffer.concat([trace, content]);
    let sender = a.from;
    if (!local) {
      this.srs ??= new Srs({ secret: loadSrsSecret(config.dataDir) });
      sender = this.srs.forward(a.from, domain);
      data = await arcSeal(data, { config, domain, hostname: config.hostname });
    }
    return { id, sender, recipients: [{ address: target }], data, origin: 'sieve', envid: null };
  }

  private async vacation(
    a: Arrival,
    t: SieveTarget,
    act: Extract<SieveAction, { type: 'vacation' }>,
    message: DeliveredMessage,
  ): Promise<{ message: NewMessage; key: string } | null> {
    const log = this.opts.logger;
    const own = [t.user.address, t.rcpt, ...act.addresses].map((x) => x.replace(/[<>]/g, '').trim());
    const why = vacationRefusal(message.headers, a.from, own, a.junk);
    if (why) {
      log.info({ qid: a.qid, to: t.user.address, sender: a.from, why }, 'sieve: no vacation reply');
      return null;
    }
    const key = vacationKey(act, a.from);
    if (await this.opts.scripts?.vacationAnswered(t.user.id, key)) {
      log.info({ qid: a.qid, to: t.user.address, sender: a.from }, 'sieve: vacation reply already sent in this period');
      return null;
    }
    // RFC 5230 §4.4: :from must be one of the user's own addresses
    const fromAddr = (act.from ? (/<([^<>]+)>/.exec(act.from)?.[1] ?? act.from) : t.user.address).trim().toLowerCase();
    // (:addresses only widens who the message counts as addressed to, never who may be the sender)
    const allowed = fromAddr === t.rcpt.toLowerCase() || (this.opts.accounts?.maySendAs(t.user, fromAddr) ?? fromAddr === t.user.address.toLowerCase());
    const reply = vacationReply({
      action: allowed ? act : { ...act, from: null },
      headers: message.headers,
      recipient: t.user.address,
      sender: a.from,
      hostname: this.opts.config.hostname,
    });
    // RFC 3834 §3.3 / RFC 5230 §4.8: from the null sender, DKIM-signed as the user's domain
    const data = signLocalMessage(reply, { config: this.opts.config, sender: allowed ? fromAddr : t.user.address, trusted: true });
    return { message: { id: newId(), sender: '', recipients: [{ address: a.from }], data, origin: 'sieve', envid: null }, key };
  }

  /** Keep in INBOX, log, remember the error, and tell the user once per new error. */
  private async failed(a: Arrival, t: SieveTarget, plan: Plan, name: string, lastError: string | null, err: unknown): Promise<void> {
    const text = err instanceof Error ? err.message : String(err);
    this.opts.logger.warn({ cid: a.cid, qid: a.qid, to: t.user.address, script: name, err: text }, 'sieve script failed, message kept in INBOX');
    const keep = this.defaultRequest(a, t);
    delete keep.mailbox;
    plan.requests.push(keep);
    if (!name || !this.opts.scripts) return;
    try {
      await this.opts.scripts.recordError(t.user.id, name, text);
    } catch {
      // the notice below still tells the user
    }
    if (lastError === text) return;
    const notice = Buffer.from(
      [
        `From: Mail Delivery System <MAILER-DAEMON@${this.opts.config.hostname}>`,
        `To: <${t.user.address}>`,
        `Subject: Your Sieve filter "${name.replace(/[\r\n"]/g, ' ')}" failed`,
        `Date: ${new Date().toUTCString().replace(/GMT$/, '+0000')}`,
        `Message-ID: <${newId()}.sieve@${this.opts.config.hostname}>`,
        'Auto-Submitted: auto-generated',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        `Your Sieve script "${name}" stopped with an error while filtering a message:`,
        '',
        `  ${text}`,
        '',
        'The message was kept in your INBOX, as is every message until the script is fixed.',
        'You are told once per new error; the error is also shown with the script.',
        '',
      ].join('\r\n'),
    );
    const indexed = await this.opts.indexer.index(notice);
    plan.requests.push({ userId: t.user.id, prefix: Buffer.alloc(0), content: indexed.raw, index: indexed.index });
  }
}
