// Types of the weftdb/prosemirror entry point (src/prosemirror.js).
import type { Schema, Node } from 'prosemirror-model';
import type { Plugin } from 'prosemirror-state';
import type { Text, UndoManager, TextBlock } from './index.js';

export interface WeftProseMirrorOptions {
  /** space.presence (or anything with set/on): the selection goes out as anchors, peers' cursors are drawn in their colours. */
  presence?: { set(state: unknown): void; on(fn: (peers: { author: string; state: any }[]) => void): () => void } | null;
  /** Mod-z / Mod-y / Mod-Shift-z run its undo and redo (leave prosemirror-history out). */
  undoManager?: UndoManager | null;
  /** Sent with the cursor, e.g. { name, color }. */
  user?: Record<string, unknown>;
}

/** The flat schema: paragraph, heading, blockquote, code_block, list_item (kind, depth); marks strong, em, link, code. The binding also takes nested schemas (prosemirror-schema-basic + -list, Tiptap StarterKit). */
export const weftSchema: Schema;
/** The ProseMirror document of the text now (for EditorState.create), in weftSchema or the given (nested) schema. Throws WEFT_EINVAL for a schema without a paragraph textblock. */
export function weftDoc(text: Text, schema?: Schema): Node;
/** The ProseMirror document of a text's blocks (text.blocks()). */
export function docFromBlocks(schema: Schema, blocks: TextBlock[]): Node;
/** The plugin binding an editor to a weftdb text: edits both ways, marks and blocks, remote cursors, undo. */
export function weftProseMirror(text: Text, opts?: WeftProseMirrorOptions): Plugin;
