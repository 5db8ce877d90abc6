// Types of the weftdb package. The API is described in docs/API.md.
//
// The error codes and rights come from the core's headers through
// src/constants.d.ts, which the package build writes (wasm/gen_constants.c).
import type { ErrorCode, ERRORS as CoreErrors, RIGHT } from './src/constants.js';

/** A value a field can hold. Integers outside the safe range read back as bigint. */
export type Value =
  | null
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

/** Every error the package throws or rejects with. */
export class WeftError extends Error {
  readonly name: 'WeftError';
  /** The core's code name, e.g. 'WEFT_ENOTFOUND'. */
  readonly code: ErrorCode;
  /** Its number (negative; never renumbered). */
  readonly errno: number;
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
}

export interface Collection<T extends Doc = Doc> {
  readonly name: string;
  /**
   * Replaces the document (fields not in data are removed). Resolves when
   * durable. Outside transact, the writes of one task share one change
   * (docs/API.md, "Writes outside transact share a change").
   */
  put(id: string, data: T): Promise<void>;
  /** Sets the given fields; a field set to undefined is deleted. */
  update(id: string, patch: Partial<{ [K in keyof T]: T[K] | undefined }>): Promise<void>;
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
export type ConnectionState = 'offline' | 'connecting' | 'syncing' | 'synced' | 'version';
export interface Status {
  state: ConnectionState;
  /** Local changes not yet acknowledged by the relay (without a relay: not yet durable in storage). */
  pending: number;
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
}
/** Direct WebRTC links to other peers of the space (openSpace({ p2p })). */
export interface P2PLinks {
  /** Authors (base64url) of the peers linked now (handshake done). */
  readonly peers: string[];
  on(event: 'peers', fn: (authors: string[]) => void): () => void;
  on(event: 'error', fn: (e: WeftError) => void): () => void;
}

/** One splice of a text, in UTF-16 code units. */
export interface TextDelta {
  index: number;
  deleteCount: number;
  insert: string;
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
  /** cb(deltas, { local, text }) after every change (text: the text now); returns an unsubscribe function. */
  observe(cb: (deltas: TextDelta[], info: { local: boolean; text: string }) => void): () => void;
  /**
   * A stable position (a string) naming the character after index (assoc >= 0,
   * the default) or before it (assoc < 0); '>' / '<' for the end / start.
   */
  anchor(index: number, assoc?: number): string;
  /** Where an anchor is now (UTF-16), or null when this text does not hold its character. */
  resolve(anchor: string): number | null;
  /** Two-way binding of a <textarea> or <input>; returns an unbind function. */
  bind(el: HTMLTextAreaElement | HTMLInputElement): () => void;
}

/** What an undo manager tracks: a collection name, one document, or a text field. */
export type UndoScope = string | { collection: string; doc?: string } | Text;
export interface UndoManagerOptions {
  scope: UndoScope | UndoScope[];
  /** Writes closer than this (ms, default 500) are one undo step. */
  captureTimeout?: number;
}
/** Undo and redo of this device's own edits (space.undoManager). */
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
  /** The space id (owner's public key, base64url). */
  readonly id: string;
  /** This device's author key (base64url). */
  readonly author: string;
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
  collection<T extends Doc = Doc>(name: string, opts?: CollectionOptions): Collection<T>;
  /** The text field `field` of document `doc` (which need not exist yet). */
  text(collection: string, doc: string, field: string): Text;
  /** Undo/redo of this device's own writes in scope (collections, documents, texts). */
  undoManager(opts: UndoManagerOptions): UndoManager;
  /**
   * fn runs synchronously; its writes become one change, all or nothing:
   * one failing write (bad arguments included) rejects this promise and
   * every write's. The open change of earlier writes is committed first.
   */
  transact<R>(fn: (space: Space) => R): Promise<R>;
  invite(opts?: { rights?: Rights; expiresIn?: number; base?: string }): string;
  on(event: 'status', fn: (s: Status) => void): () => void;
  on(event: 'change', fn: (e: ChangeEvent) => void): () => void;
  on(event: 'error', fn: (e: WeftError) => void): () => void;
  /** The space's format level rose (a member raised it, here or elsewhere). */
  on(event: 'formatLevel', fn: (e: { level: number; previous: number }) => void): () => void;
  /** The relay refused this app as too old for the space (status 'version' from now on). */
  on(event: 'version', fn: (e: { message: string; formatLevel: number }) => void): () => void;
  /** The in-memory history was compacted into a snapshot (see historyBytes). */
  on(event: 'compact', fn: (e: { stateBytes: number }) => void): () => void;
  off(event: string, fn: (...args: any[]) => void): void;
  stateHash(): string;
  versionVector(): Uint8Array;
  changesSince(vv?: Uint8Array): Uint8Array;
  applyChanges(records: Uint8Array): Promise<void>;
  /** Commits the open change, if any; resolves when every write so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
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
  /** A WebSocket constructor (Node 20: the `ws` package's). Browsers: the global one. */
  WebSocket?: unknown;
}

export interface OpenOptions {
  storage?: 'memory' | 'indexeddb' | StorageAdapter;
  /** A weft-relay WebSocket URL, e.g. ws://localhost:8080 */
  relay?: string;
  sync?: RelayOptions;
  /** Presence timing in ms: resend every `interval` (10,000), forget peers silent for `timeout` (30,000). */
  presence?: { interval?: number; timeout?: number };
  /**
   * Peer-to-peer sync over WebRTC data channels, signaled through the relay
   * (needs `relay`). true: the global RTCPeerConnection (browsers) and no ICE
   * servers (host candidates: same machine or LAN). Node has no WebRTC.
   */
  p2p?: boolean | { RTCPeerConnection?: unknown; iceServers?: unknown[]; connectTimeout?: number };
  /** Coordinate tabs of one IndexedDB space (default true). */
  tabs?: boolean;
  /** In-memory change history kept before the replica is compacted (default 1 MiB, or twice the state's size). */
  historyBytes?: number;
  /** ms a change holding only text edits stays open, so the keystrokes of that window are one change (default 100). */
  textWindow?: number;
  init?: InitOptions;
}
export interface InitOptions {
  /** The core's .wasm: a URL, its bytes or a compiled module (default: beside dist/weftdb_core.mjs). */
  wasm?: string | URL | ArrayBuffer | Uint8Array | WebAssembly.Module;
}

export function createSpace(opts?: OpenOptions): Promise<Space>;
export function openSpace(opts: OpenOptions & ({ invite: string } | { space: string })): Promise<Space>;
export function init(opts?: InitOptions): Promise<void>;
export function version(): Promise<string>;
/** WASM memory: heapBytes (reserved; grows, never shrinks) and heapUsed (malloc'ed now). */
export function memoryStats(): Promise<{ heapBytes: number; heapUsed: number }>;
export function memoryStorage(): StorageAdapter;
export function indexedDBStorage(opts?: { name?: string }): StorageAdapter;
export const SNAPSHOT_EVERY: number;
export const SNAPSHOT_BYTES: number;
export const HISTORY_BYTES: number;
/** Rights numbered as in auth.h: { read: 1, write: 2, admin: 3 }. */
export const RIGHTS: { readonly [K in keyof typeof RIGHT as Lowercase<K>]: (typeof RIGHT)[K] };
