// A space's format level (FORMAT.md §10, docs/API.md "Format levels"): what
// its writers may use, 1 until an owner or admin signs a level record that
// raises it. FormatLevel verifies such records (from this device, the relay
// or a peer), applies a raise to the replica, keeps the record with the key
// material (so a reopened space starts at it) and announces it. The level
// only rises. The space holds one and hands it a narrow host.
import { FORMAT_LEVEL, RIGHT } from './constants.js';
import { WeftError } from './errors.js';

/**
 * What a FormatLevel needs from its space.
 * @typedef {object} LevelHost
 * @property {import('./core.js').Core} core
 * @property {() => object} meta the key material now
 * @property {(m: object) => void} setMeta replaces it
 * @property {() => import('./replica.js').Replica} rep the replica now
 * @property {(name: string, arg: unknown) => void} emit the space's events
 * @property {{ saveMeta(m: object): Promise<void> }} store
 * @property {() => Uint8Array | null} grantChain this device's admin grant chain (members.js), for a device admitted by grant
 */

export class FormatLevel {
  /** The space's format level now. */
  level = 1;
  #h;

  /** @param {LevelHost} host Starts at the level record kept with the key material, if any. */
  constructor(host) {
    this.#h = host;
    const meta = host.meta();
    if (!meta.levelRecord) return;
    try {
      this.level = host.core.levelVerify(meta.levelRecord, meta.space);
      host.rep().setFormatLevel(this.level);
    } catch (e) {
      this.level = 1;
      queueMicrotask(() => host.emit('error', e));
    }
  }

  /** Signs a record raising the level to `level` (rights: this device's). Returns it, or null when the level is there already. */
  sign(level, rights) {
    if (!Number.isInteger(level) || level < 1 || level > FORMAT_LEVEL)
      throw new WeftError(level > FORMAT_LEVEL ? 'WEFT_EVERSION' : 'WEFT_EINVAL', `format level must be 1..${FORMAT_LEVEL} (this build's), not ${level}`);
    if (level <= this.level) return null;
    if (rights < RIGHT.ADMIN) throw new WeftError('WEFT_ERIGHTS', 'only the owner or an admin can raise the format level');
    const m = this.#h.meta();
    const owner = !!m.spaceSecret;
    // A level record by an admin carries its admin token, or for an admin
    // admitted by grant its grant chain (FORMAT.md §10).
    const parent = owner ? null : m.byGrant ? this.#h.grantChain() : m.token;
    if (!owner && !parent) throw new WeftError('WEFT_ERIGHTS', 'this device holds no grant from the owner that makes it an admin now (an admin made by another admin\'s grant cannot raise the format level)');
    return this.#h.core.levelSign({
      space: m.space,
      issuerSecret: owner ? m.spaceSecret : m.authorSecret,
      parent,
      level,
      wallMs: Date.now(),
    });
  }

  /** Verifies a level record and, if it raises the level, applies, keeps and announces it. */
  /** Signs a raise to `level` with `rights`, takes it here and sends it on `sync` (if any). Resolves to the level. */
  async raise(level, rights, sync) {
    const record = this.sign(level, rights);
    if (!record) return this.level;
    await this.take(record);
    sync?.sendLevel(record);
    return this.level;
  }

  take(record) {
    const h = this.#h;
    let level;
    try {
      level = h.core.levelVerify(record, h.meta().space);
    } catch (e) {
      h.emit('error', e);
      return Promise.resolve();
    }
    if (level <= this.level) return Promise.resolve();
    if (level > FORMAT_LEVEL) {
      // A relay never sends this (it refuses the link first); a peer might.
      h.emit('error', new WeftError('WEFT_EVERSION', `the space moved to format level ${level}; this app reads up to ${FORMAT_LEVEL}: update the app`));
      return Promise.resolve();
    }
    const previous = this.level;
    this.level = level;
    h.rep().setFormatLevel(level);
    const meta = { ...h.meta(), levelRecord: record };
    h.setMeta(meta);
    h.emit('formatLevel', { level, previous });
    return h.store.saveMeta(meta).catch((e) => {
      h.emit('error', new WeftError('WEFT_EUNAVAILABLE', `storing the format level failed: ${e?.message ?? e}`, { cause: e }));
    });
  }
}
