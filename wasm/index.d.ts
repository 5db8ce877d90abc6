// Types of the weftdb package. The API is described in docs/API.md.
//
// The error codes and rights come from the core's headers through
// src/constants.d.ts, which the package build writes (wasm/gen_constants.c).
import type { ErrorCode, ERRORS as CoreErrors, PROTO_ERROR, RIGHT } from './src/constants.js';

/** A value a field can hold. Integers outside the safe range read back as bigint; a Date is stored as its ISO 8601 string. */
export type Value =
  | null
  | Date
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Value[]
  | { [key: string]: Value | undefined };

/** A document: a plain object of fields. */
export type Doc = { [field: string]: Value };

/** 'read' | 'write' | 'admin': auth.h's WEFT_RIGHT_* names, lowercased. */
export type Rights = Lowercase<keyof typeof RIGHT>;

/** A core error code's name (error.h), or 'WEFT_EUNKNOWN'. */
export type { ErrorCode };
/** A relay's protocol error name (protocol.h WEFT_PROTO_ERRORS), or 'UNKNOWN' for a code this build does not know. */
export type ProtocolErrorName = keyof typeof PROTO_ERROR | 'UNKNOWN';

/** Every error the package throws or rejects with. */
export class WeftError extends Error {
  readonly name: 'WeftError';
  /** The core's code name, e.g. 'WEFT_ENOTFOUND'. */
  readonly code: ErrorCode;
  /** Its number (negative; never renumbered). */
  readonly errno: number;
  /** Set when the relay sent the error (an ERROR frame or a refused change): the protocol's name. */
  readonly protocolError?: ProtocolErrorName;
}
/** Error numbers by code name, as in error.h. */
export const ERRORS: typeof CoreErrors;

export type Comparison = {
  eq?: Value; ne?: Value; lt?: Value; lte?: Value; gt?: Value; gte?: Value;
  in?: Value[]; contains?: Value; exists?: boolean;
};
export type Where = { [fieldPath: string]: Value | Comparison } | ((doc: Doc, id: string) => boolean);
export type OrderBy = string | { field: string; direction?: 'asc' | 'desc' };
export interface Query {
  where?: Where;
  /** "field", "field desc", { field, direction }, or an array of these. */
  orderBy?: OrderBy | OrderBy[];
  limit?: number;
  /** The cursor of the previous page (its rows.cursor): start after that row. */
  after?: Cursor;
}
/** An opaque page cursor: the last row of a page, as it was read. */
export type Cursor = Row<any>;
/** Query results; cursor: the last row when limit cut them (the next page's after), else null. */
export type Rows<T extends Doc = Doc> = Row<T>[] & { readonly cursor: Cursor | null };
export interface Row<T extends Doc = Doc> {
  id: string;
  data: T;
}

export interface CollectionOptions {
  /** Field paths to index (docs/API.md, "Indexes"). */
  indexes?: string[];
  /** Shapes every document read (docs written by older app versions): see docs/API.md, "Schemas". */
  migrate?: ((doc: Doc, id: string) => Doc) | null;
}

/** The Standard Schema interface (https://standardschema.dev, v1): zod, valibot, arktype... implement it. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaV1.Result<Output> | Promise<StandardSchemaV1.Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}
export declare namespace StandardSchemaV1 {
  type Result<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: readonly Issue[] };
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  }
  type InferInput<S extends StandardSchemaV1<any, any>> = NonNullable<S['~standard']['types']>['input'];
  type InferOutput<S extends StandardSchemaV1<any, any>> = NonNullable<S['~standard']['types']>['output'];
}

/** A value as it reads back: a Date is stored as its ISO 8601 string. */
export type Stored<T> = T extends Date
  ? string
  : T extends Uint8Array | bigint | string | number | boolean | null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? Stored<E>[]
      : { [K in keyof T]: Stored<T[K]> };

export interface SchemaOptions<S extends StandardSchemaV1<any, any>> extends CollectionOptions {
  /** Every local write (put, update, increment; inside transact too) must pass it; nothing is written otherwise. */
  schema: S;
}

export interface Collection<T extends Doc = Doc, W = T> {
  readonly name: string;
  /**
   * Replaces the document (fields not in data are removed). Resolves when
   * durable. Outside transact, the writes of one task share one change
   * (docs/API.md, "Writes outside transact share a change").
   */
  put(id: string, data: W): Promise<void>;
  /** Sets the given fields; a field set to undefined is deleted. */
  update(id: string, patch: Partial<{ [K in keyof W]: W[K] | undefined }>): Promise<void>;
  /** Adds an integer to a counter field; concurrent increments add up. */
  increment(id: string, field: string, by?: number): Promise<void>;
  delete(id: string): Promise<void>;
  /**
   * get, list, query and live queries return frozen objects, the same one
   * (===) until the document changes: copy before editing.
   */
  get(id: string): T | undefined;
  list(): Rows<T>;
  query(q?: Query): Rows<T>;
  /** Live query: cb runs now and after every local or remote change to its results. */
  subscribe(q: Query, cb: (rows: Rows<T>) => void): () => void;
  subscribe(cb: (rows: Rows<T>) => void): () => void;
}

/** 'version': the space uses a format level this app does not read: update the app (local data stays). */
/** 'removed' (this key was removed from the space), 'expired' (its access lapsed) and 'denied' (this key holds no grant: its claimed link was claimed by another device) are final: show "ask an admin". */
/** A member as the space's membership records say (SECURITY.md "Members"). */
export interface Member {
  /** Its public key (base64url): a device's author key. */
  key: string;
  /** The person it belongs to: the key a device link (space.linkDevice) names, else its own key. */
  person: string;
  rights: 'read' | 'write' | 'admin';
  admin: boolean;
  /** The space's own key. */
  owner: boolean;
  /** 'member' now, 'expired' (its grants ended), 'removed', or 'none'. */
  state: 'member' | 'expired' | 'removed' | 'none';
  /** When its access ends (ms since the epoch), null for never. */
  until: number | null;
}

export type ConnectionState = 'offline' | 'connecting' | 'syncing' | 'synced' | 'version' | 'removed' | 'expired' | 'denied';
export interface Status {
  state: ConnectionState;
  /** Local changes not yet acknowledged by the relay (without a relay: not yet durable in storage). */
  pending: number;
  /** Files put here not yet whole at the relay (space.files.pending). */
  uploads: number;
  /** Set for good when a relay can never store an own change (one committed by an older build above its --max-frame): own changes from it on stay unsent. */
  error?: 'CHANGE_TOO_BIG';
}
export interface ChangeEvent {
  docs: [collection: string, id: string][];
  local: boolean;
  remote: boolean;
}

export interface PresencePeer<S = unknown> {
  /** The peer's author key (base64url), as its Space.author. */
  author: string;
  state: S;
}
/** Who else has the space open (through the relay; sealed with the content key). */
export interface Presence<S = unknown> {
  /** Sets this replica's state (JSON, at most 60,000 bytes; null: none) and sends it now. */
  set(state: S | null): void;
  readonly state: S | null;
  /** Peers heard within the timeout that have a state. */
  readonly peers: PresencePeer<S>[];
  /** fn(peers) now (in a microtask) and on every change. Returns an unsubscribe function. */
  on(fn: (peers: PresencePeer<S>[]) => void): () => void;
  /** Messages dropped as replayed or outside the time window, since the space opened. */
  readonly dropped: number;
}
/** Direct WebRTC links to other peers of the space (openSpace({ p2p })). */
export interface P2PLinks {
  /** Authors (base64url) of the peers linked now (handshake done). */
  readonly peers: string[];
  /** Changes peers sent that were refused (their author removed, lapsed or without write), by reason: { REVOKED: 1 }. */
  readonly refused: Partial<Record<'REVOKED' | 'EXPIRED' | 'RIGHTS', number>>;
  on(event: 'peers', fn: (authors: string[]) => void): () => void;
  /** A refused handshake or change (WEFT_EREVOKED, WEFT_EEXPIRED, WEFT_ERIGHTS, WEFT_ENOTMEMBER, WEFT_ECRYPTO…), ours or the peer's. */
  on(event: 'error', fn: (e: WeftError) => void): () => void;
}

/**
 * One splice of a text, in UTF-16 code units. A formatting change is a
 * no-op splice with `format`: the marks of `format` units from `index` may
 * have changed (read them with spans()).
 */
export interface TextDelta {
  index: number;
  deleteCount: number;
  insert: string;
  format?: number;
}
/** Marks of a span: type -> value (bold: true, link: 'https://…'). */
export type TextAttributes = Record<string, unknown>;
/** A run of equally formatted text (Quill/Yjs delta style); no attributes on plain text. */
export interface TextSpan {
  insert: string;
  attributes?: TextAttributes;
}
/** A block's attributes (docs/API.md, "Blocks"): type paragraph | heading (level 1..6) | bullet | ordered (depth 0..15) | blockquote | code, or another. */
export interface BlockAttributes {
  type: 'paragraph' | 'heading' | 'bullet' | 'ordered' | 'blockquote' | 'code' | (string & {});
  level?: number;
  depth?: number;
  [key: string]: unknown;
}
/** One block of a rich text (text.blocks()). */
export interface TextBlock {
  /** The index of its marker ("\n"), null for the text before the first marker. */
  marker: number | null;
  /** Its content: [start, end) in UTF-16 units. */
  start: number;
  end: number;
  attrs: BlockAttributes;
  /** The content's formatting, without the block mark. */
  spans: TextSpan[];
}
/** A collaborative text field (space.text). Positions are UTF-16 code units. */
export interface Text {
  readonly collection: string;
  readonly doc: string;
  readonly field: string;
  readonly length: number;
  toString(): string;
  /** Each edit commits one change; resolves when durable. Not inside transact(). */
  insert(index: number, text: string): Promise<void>;
  delete(index: number, count: number): Promise<void>;
  splice(index: number, deleteCount: number, insert?: string): Promise<void>;
  /**
   * Formats length units from index: { bold: true, link: 'https://…' }; null
   * removes a mark. Joins the open change like splice; not inside transact(); needs formatLevel >=
   * LEVEL_MARKS (5). link and comment do not grow when typing after them.
   */
  format(index: number, length: number, attributes: Record<string, unknown | null>): Promise<void>;
  /** The text as spans of equally formatted text. */
  spans(): TextSpan[];
  /** The text as blocks (block markers, docs/API.md "Blocks"); at least one. */
  blocks(): TextBlock[];
  /** Inserts a block marker at index: the text after it starts a block with attrs. */
  insertBlock(index: number, attrs?: BlockAttributes): Promise<void>;
  /** Sets the attributes of the block whose marker ("\n") is at index, replacing them. */
  setBlock(index: number, attrs: BlockAttributes): Promise<void>;
  /** cb(deltas, { local, text }) after every change (text: the text now); returns an unsubscribe function. */
  observe(cb: (deltas: TextDelta[], info: { local: boolean; text: string }) => void): () => void;
  /**
   * A stable position (a string) naming the character after index (assoc >= 0,
   * the default) or before it (assoc < 0); '>' / '<' for the end / start.
   * In a follower tab, index counts this tab's edits still on their way to
   * the leader tab (as its bound element shows them); resolve() too.
   */
  anchor(index: number, assoc?: number): string;
  /** Where an anchor is now (UTF-16), or null when this text does not hold its character. */
  resolve(anchor: string): number | null;
  /** Two-way binding of a <textarea> or <input>; returns an unbind function. */
  bind(el: HTMLTextAreaElement | HTMLInputElement): () => void;
}

/** One change to a list, applied in order to the previous array. */
export type ListDelta =
  | { insert: number; value: Value }
  | { delete: number }
  | { move: number; to: number }
  | { set: number; value: Value };
/**
 * A list field (space.list): an ordered list whose items keep their
 * identity through moves; concurrent inserts, deletes, moves and sets
 * merge (a moved item ends in one place, never duplicated). The field reads
 * as an array everywhere. Outside transact each edit commits one change;
 * inside, edits join the transaction (indices count earlier edits in it).
 */
export interface List<T extends Value = Value> {
  readonly collection: string;
  readonly doc: string;
  readonly field: string;
  readonly length: number;
  toArray(): T[];
  /** The items with their identities (stable through moves and sets). */
  entries(): { id: string; value: T }[];
  insert(index: number, value: T): Promise<void>;
  push(...values: T[]): Promise<void>;
  delete(index: number, count?: number): Promise<void>;
  /** Moves the item at `from` so that it ends at `to`. */
  move(from: number, to: number): Promise<void>;
  /** Replaces an item's value in place. */
  set(index: number, value: T): Promise<void>;
  /** cb(deltas, { array }) after every change, local or remote; returns an unsubscribe function. */
  observe(cb: (deltas: ListDelta[], info: { array: T[] }) => void): () => void;
}
/**
 * A file reference (space.files.put): store it in a field. It is sealed in
 * the change like any value; `key` reads the file, so share it as you would
 * the document.
 */
export type FileRef = {
  readonly $file: 1;
  /** 32 hex digits. */
  readonly id: string;
  /** The file's own key, base64url. */
  readonly key: string;
  readonly size: number;
  /** Plaintext bytes per chunk. */
  readonly chunk: number;
  readonly name: string;
  readonly type: string;
};
export interface FileProgress {
  id: string;
  direction: 'up' | 'down';
  loaded: number;
  total: number;
  /** An upload is whole at the relay. */
  done?: boolean;
}
/** Files beside the log (docs/API.md, "Files"). */
export interface Files {
  /** Seals and queues a file; resolves (once queued durably) to its reference. Write rights only. */
  put(data: Blob | Uint8Array, opts?: { name?: string; type?: string }): Promise<FileRef>;
  /** Downloads and opens a file: a Blob (default where there is a document), or bytes. Rejects WEFT_EFILE_PENDING while its upload is not whole. */
  get(ref: FileRef, opts?: { as?: 'blob'; onProgress?: (p: FileProgress) => void }): Promise<Blob>;
  get(ref: FileRef, opts: { as: 'bytes'; onProgress?: (p: FileProgress) => void }): Promise<Uint8Array>;
  get(ref: FileRef, opts?: { as?: 'blob' | 'bytes'; onProgress?: (p: FileProgress) => void }): Promise<Blob | Uint8Array>;
  /** Uploads not yet whole at the relay. */
  readonly pending: { ref: FileRef; loaded: number; total: number; error: WeftError | null }[];
  /** The files this replica's state references (their leases it renews). */
  referenced(): Set<string>;
  /** Renews now the leases not renewed lately; resolves to how many. */
  renew(): Promise<number>;
}
export function isFileRef(v: unknown): v is FileRef;

/** What an undo manager tracks: a collection name, one document, or a text field. */
export type UndoScope = string | { collection: string; doc?: string } | Text;
export interface UndoManagerOptions {
  scope: UndoScope | UndoScope[];
  /** Writes closer than this (ms, default 500) are one undo step. */
  captureTimeout?: number;
}
/** Undo and redo of this device's own edits (space.undoManager): writes, counters, text and its formatting. */
export interface UndoManager {
  captureTimeout: number;
  /** Reverses the last step; resolves to whether anything changed, once durable. */
  undo(): Promise<boolean>;
  redo(): Promise<boolean>;
  canUndo(): boolean;
  canRedo(): boolean;
  /** The next write starts a new step. */
  stopCapturing(): void;
  clear(): void;
  destroy(): void;
  on(name: 'stack-item-added' | 'stack-item-popped', fn: (e: { type: 'undo' | 'redo' }) => void): () => void;
}

export interface Space {
  /** Files: put(data, { name, type }) → a reference to store in a field; get(ref) → the file. */
  readonly files: Files;
  /** The space id (owner's public key, base64url). */
  readonly id: string;
  /** This device's author key (base64url). */
  readonly author: string;
  /** Who is a member, as the space's membership records say (empty until an owner or admin writes one; `weft grant` for now). */
  readonly members: Member[];
  /** The current content-key epoch (0: the space's first key; each removal starts a new one). */
  readonly keyEpoch: number;
  /** Owner or admin: grants a device key (base64url) 'read', 'write' or (owner only) 'admin', until expiresAt (ms; omitted: never). Throws WEFT_ENOTADMIN, WEFT_EOUTLIVES... as the relay would refuse it. */
  grant(key: string, rights: 'read' | 'write' | 'admin', opts?: { expiresAt?: number }): Promise<void>;
  /** Owner or admin: removes a device key (base64url): its later changes stop counting, a new content key goes to every member left. */
  remove(key: string): Promise<void>;
  /** On a new device: a code (QR-sized, 'weft-device-1:…') asking the person whose device key is `person` (their space.author) to link this device. */
  deviceCode(person: string): string;
  /** On the person's device: links the device of a deviceCode (a record both signed; from the owner or an admin also a grant). Returns the device key. Throws WEFT_ECRYPTO (a code for another person), WEFT_EREPLAY (linked already). */
  linkDevice(code: string): Promise<string>;
  /** This device's keys for the space sealed under `passphrase` (>= 8 bytes; Argon2id + XChaCha20-Poly1305), as 'weft-backup-1:…' text for restoreSpace. */
  backup(passphrase: string): Promise<string>;
  /** This device's rights now: they follow the membership records live (a grant, a lapse, a removal), with a 'rights' event. */
  readonly rights: Rights;
  readonly status: Status;
  readonly closed: boolean;
  readonly presence: Presence;
  /** null unless opened with { p2p }. */
  readonly p2p: P2PLinks | null;
  /** The space's format level (docs/API.md, "Format levels"): what its writers may use. 1 until raised. */
  readonly formatLevel: number;
  /** Owner or admin: raises the level (up to this build's); members whose app reads less get status 'version'. Resolves to the level. */
  raiseFormatLevel(level: number): Promise<number>;
  /**
   * The collection `name`. indexes: field paths (dotted) the space keeps
   * sorted indexes on, so that queries whose where compares (equality,
   * eq/lt/lte/gt/gte) or whose orderBy (one field) names one read only the
   * documents they need. Declaring more later adds them; none is dropped.
   * Built on first use, kept up to date by every change; in memory only.
   */
  collection<S extends StandardSchemaV1<any, any>>(
    name: string,
    opts: SchemaOptions<S>,
  ): Collection<Stored<StandardSchemaV1.InferOutput<S>> & Doc, StandardSchemaV1.InferInput<S>>;
  collection<T extends Doc = Doc>(name: string, opts?: CollectionOptions): Collection<T>;
  /** The text field `field` of document `doc` (which need not exist yet). */
  text(collection: string, doc: string, field: string): Text;
  /** The list field `field` of document `doc`; needs formatLevel >= LEVEL_LISTS (3). */
  list<T extends Value = Value>(collection: string, doc: string, field: string): List<T>;
  /** Undo/redo of this device's own writes in scope (collections, documents, texts). */
  undoManager(opts: UndoManagerOptions): UndoManager;
  /**
   * fn runs synchronously; its writes become one change, all or nothing:
   * one failing write (bad arguments included) rejects this promise and
   * every write's. The open change of earlier writes is committed first.
   */
  transact<R>(fn: (space: Space) => R): Promise<R>;
  /**
   * A link one device claims with its own key (then admitted by its grant, removable): from the owner or any admin device.
   * Resolves once the invite's grant is signed and sent; the link works once it reached the relay.
   */
  invite(opts: { rights?: Rights; expiresIn?: number; base?: string; uses: 1 }): Promise<string>;
  /** A bearer link for public sharing: whoever holds it gets `rights` until it expires; it cannot be removed. */
  invite(opts?: { rights?: Rights; expiresIn?: number; base?: string }): string;
  /** Admin devices: renews the grants that ran `share` (default 0.8) of their time, for the same length again, and grants devices linked to a member their person's rights. Resolves to the number of grants written. */
  renewMembers(share?: number): Promise<number>;
  on(event: 'status', fn: (s: Status) => void): () => void;
  on(event: 'change', fn: (e: ChangeEvent) => void): () => void;
  on(event: 'error', fn: (e: WeftError) => void): () => void;
  /** The space's format level rose (a member raised it, here or elsewhere). */
  on(event: 'formatLevel', fn: (e: { level: number; previous: number }) => void): () => void;
  /** The relay refused this app as too old for the space (status 'version' from now on). */
  on(event: 'version', fn: (e: { message: string; formatLevel: number }) => void): () => void;
  /** Progress of a file's upload or download. */
  on(event: 'file', fn: (p: FileProgress) => void): () => void;
  /** The space's membership records changed (a grant, a removal, a key epoch): the new list. */
  on(event: 'members', fn: (members: Member[]) => void): () => void;
  /** This device's rights changed (a grant, a lapse, a renewal, a removal): writes above them are refused here with WEFT_ERIGHTS. */
  on(event: 'rights', fn: (e: { rights: Rights; previous: Rights }) => void): () => void;
  /** The relay refused this device for good: its key was removed from the space, its access lapsed, or it holds no grant (status 'removed', 'expired' or 'denied' from now on; local data stays). Show "ask an admin". */
  on(event: 'access', fn: (e: { state: 'removed' | 'expired' | 'denied' | 'member'; message: string }) => void): () => void;
  /** The in-memory history was compacted into a snapshot (see historyBytes). */
  on(event: 'compact', fn: (e: { stateBytes: number }) => void): () => void;
  /** The replica joined from the relay's sealed snapshot, or this device published one (docs/API.md, "Snapshots"). */
  on(event: 'snapshot', fn: (e: SnapshotEvent) => void): () => void;
  off(event: string, fn: (...args: any[]) => void): void;
  stateHash(): string;
  versionVector(): Uint8Array;
  /** Every change the holder of vv lacks; throws WEFT_ETRIMMED when some are older than this replica's snapshot (vv does not cover historyBase()). */
  changesSince(vv?: Uint8Array): Uint8Array;
  /** Who changed a document, when and which fields, from the change records this replica holds (docs/API.md, "History"). */
  history(collection: string, doc: string): { entries: HistoryEntry[]; trimmed: boolean };
  /** history() completed from the relay's log over REST when it is trimmed here; trimmed: the relay trimmed too. */
  historyFromRelay(collection: string, doc: string, opts?: { relay?: string | null; fetch?: typeof fetch }): Promise<{ entries: HistoryEntry[]; trimmed: boolean; unreadable: number }>;
  /** The version vector below which this replica holds no change records (empty: it holds them all). */
  historyBase(): Uint8Array;
  applyChanges(records: Uint8Array): Promise<void>;
  /** Every document of every collection as plain JSON (docs/API.md, "Export, import, leave, delete"). */
  exportJSON(): SpaceExport;
  /** Writes an export's documents (object or JSON text) into this space; resolves to their count once durable. */
  importJSON(data: SpaceExport | string): Promise<number>;
  /** Closes the space and deletes its keys and local data from this device's storage. */
  leave(): Promise<void>;
  /** Owner or admin: deletes the space on the relay (REST DELETE). deleted: false when the relay had nothing. */
  deleteFromRelay(opts?: { relay?: string; fetch?: typeof fetch }): Promise<{ deleted: boolean }>;
  /** Commits the open change, if any; resolves when every write so far is durable. snapshot: the store then holds the state as one sealed snapshot (docs/API.md, "Storage"). */
  flush(opts?: { snapshot?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** A JSON value of an export: bytes as { $bytes: base64url }, int64 beyond 2^53 as { $bigint }, a tag-like map as { $map }. */
export type ExportValue = null | boolean | number | string | ExportValue[] | { [key: string]: ExportValue };
/** space.exportJSON(): plain JSON, documents by collection and id (texts as their strings). */
export interface SpaceExport {
  format: 'weftdb-export';
  version: 1;
  space?: string;
  exportedAt?: string;
  collections: { [collection: string]: { [id: string]: { [field: string]: ExportValue } } };
}

/** What a storage adapter's open() returns (docs/API.md, "Custom storage"). */
export interface Store {
  load(): Promise<{
    meta: object | null;
    snapshot: Uint8Array | null;
    records: Uint8Array[];
    outbox: Uint8Array[];
  }>;
  saveMeta(meta: object, opts?: { ifAbsent?: boolean }): Promise<object>;
  write(batch: {
    records: Uint8Array[];
    snapshot: Uint8Array | null;
    outbox: { seq: number; record: Uint8Array }[];
    acked: number | null;
  }): Promise<void>;
  close(): Promise<void> | void;
  /** Optional: files' upload queue and reference index ([key, value] pairs); without them uploads queue in memory only. */
  loadFiles?(): Promise<[string, unknown][]>;
  putFile?(key: string, value: unknown): Promise<void>;
  deleteFile?(key: string): Promise<void>;
}
export interface StorageAdapter {
  readonly kind?: string;
  open(spaceId: string): Promise<Store>;
  delete?(spaceId: string): Promise<void>;
}

export interface RelayOptions {
  /** Reconnect backoff: first delay and cap, in ms. */
  minDelay?: number;
  maxDelay?: number;
  /** A device admitted by grant, refused as 'expired' or 'denied', asks again: first delay and cap, in ms (2,000 / 60,000). */
  recheckDelay?: number;
  recheckMaxDelay?: number;
  /** A WebSocket constructor (Node 20: the `ws` package's). Browsers: the global one. */
  WebSocket?: unknown;
}

export interface OpenOptions {
  /**
   * Where the space is kept. Default: 'indexeddb' where IndexedDB exists
   * (browsers), else 'file' when `dir` is given, else WEFT_EINVAL (Node must
   * choose). 'memory' keeps nothing after close().
   */
  storage?: 'indexeddb' | 'file' | 'memory' | StorageAdapter;
  /** The folder of storage 'file' (Node): one subfolder per space. */
  dir?: string;
  /** A weft-relay WebSocket URL, e.g. ws://localhost:8080 */
  relay?: string;
  sync?: RelayOptions;
  /** Presence timing in ms: resend every `interval` (10,000), forget peers silent for `timeout` (30,000). */
  presence?: { interval?: number; timeout?: number; replayWindow?: number };
  /**
   * Peer-to-peer sync over WebRTC data channels, signaled through the relay
   * (needs `relay`). true: the global RTCPeerConnection (browsers) and no ICE
   * servers (host candidates: same machine or LAN). Node has no WebRTC.
   */
  p2p?: boolean | { RTCPeerConnection?: unknown; iceServers?: unknown[]; connectTimeout?: number };
  /** Coordinate tabs of one IndexedDB space (default true). */
  tabs?: boolean;
  /** Admin devices renew lapsing grants while linked: once `share` (0.8) of a grant's time went by, checked every `everyMs` (60,000); false: never. */
  renew?: false | { share?: number; everyMs?: number };
  /** In-memory change history kept before the replica is compacted (default 1 MiB, or twice the state's size). */
  historyBytes?: number;
  /** ms a change holding only text edits stays open, so the keystrokes of that window are one change (default 100). */
  textWindow?: number;
  /** Files: retry backoff (ms), how often leases are renewed (default 12 h), a fetch (default the global one). */
  files?: { minDelay?: number; maxDelay?: number; renewEvery?: number; fetch?: typeof fetch };
  init?: InitOptions;
}
export interface InitOptions {
  /** The core's .wasm: a URL, its bytes or a compiled module (default: beside dist/weftdb_core.mjs). */
  wasm?: string | URL | ArrayBuffer | Uint8Array | WebAssembly.Module;
}

export function createSpace(opts?: OpenOptions): Promise<Space>;
export function openSpace(opts: OpenOptions & ({ invite: string } | { space: string })): Promise<Space>;
/**
 * Opens the space of a key backup (space.backup()) on this device, with the
 * same rights under a new device key. relay: default the backup's URL (null:
 * none). Throws WEFT_EPASSPHRASE, WEFT_EMALFORMED, WEFT_ERIGHTS or
 * WEFT_ESTATE (held here already), storing nothing.
 */
export function restoreSpace(opts: Omit<OpenOptions, 'relay'> & { backup: string | Uint8Array; passphrase: string; relay?: string | null }): Promise<Space>;
export interface HistoryEntry {
  /** The author's key, base64url. */
  author: string;
  /** The person the author's device belongs to (a device link), else the author. */
  person: string;
  seq: number;
  /** The author's clock when it committed (ms since 1970). */
  at: number;
  /** Fields it wrote, deleted or edited as text. */
  fields: string[];
  /** It deleted the document. */
  deleted: boolean;
}

export type SnapshotEvent =
  | { joined: true; rseq: number; bytes: number }
  | { published: true; rseq: number; bytes: number };

export function init(opts?: InitOptions): Promise<void>;
export function version(): Promise<string>;
/** WASM memory: heapBytes (reserved; grows, never shrinks) and heapUsed (malloc'ed now). */
export function memoryStats(): Promise<{ heapBytes: number; heapUsed: number }>;
export function memoryStorage(): StorageAdapter;
export function indexedDBStorage(opts?: { name?: string }): StorageAdapter;
/** The format level that adds lists (space.list): raise a space to it with raiseFormatLevel. */
export const LEVEL_LISTS: number;
/** The format level that adds formatting marks on text (text.format). */
export const LEVEL_MARKS: number;
/** The format level that adds membership records (grants, removals, key epochs); space.remove raises a space to it. */
export const LEVEL_MEMBERS: number;
/** Node: spaces in folders under dir (docs/API.md, "Files (Node)"); in a browser it throws WEFT_EUNAVAILABLE. */
export function fileStorage(opts: { dir: string }): StorageAdapter;
export const SNAPSHOT_EVERY: number;
export const SNAPSHOT_BYTES: number;
export const HISTORY_BYTES: number;
/** Automatic publishing thresholds (docs/API.md, "Snapshots"). */
export const SNAPSHOT_PUBLISH_CHANGES: number;
export const SNAPSHOT_PUBLISH_BYTES: number;
/** Rights numbered as in auth.h: { read: 1, write: 2, admin: 3 }. */
export const RIGHTS: { readonly [K in keyof typeof RIGHT as Lowercase<K>]: (typeof RIGHT)[K] };
