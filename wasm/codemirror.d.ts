// Types of the weftdb/codemirror entry point (src/codemirror.js).
import type { Extension } from '@codemirror/state';
import type { Text, UndoManager } from './index.js';

export interface WeftCollabOptions {
  /** space.presence (or anything with set/on): the selection goes out as anchors, peers' cursors are drawn. */
  presence?: { set(state: unknown): void; on(fn: (peers: { author: string; state: any }[]) => void): () => void } | null;
  /** Mod-z / Mod-y / Mod-Shift-z run its undo and redo. */
  undoManager?: UndoManager | null;
  /** Draw the text's formatting (text.spans) as decorations: class weft-cm-mark-<type>; bold, italic, link styled. Default false. */
  marks?: boolean;
  /** Sent with the cursor, e.g. { name, color }. */
  user?: Record<string, unknown>;
}

/** Binds a CodeMirror 6 editor to a weftdb text: edits both ways, remote cursors, undo. */
export function weftCollab(text: Text, opts?: WeftCollabOptions): Extension;
