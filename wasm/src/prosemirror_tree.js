// The shape of a ProseMirror document as a weftdb text's flat blocks, for
// any schema the binding supports (prosemirror_doc.js, prosemirror.js):
// the flat weftSchema (one textblock per block) and the standard nested
// ones (prosemirror-schema-basic + prosemirror-schema-list, and Tiptap's
// StarterKit with its camelCase names), where lists and quotes are
// wrapper nodes: bullet_list > list_item > paragraph, blockquote > block+.
//
// Every textblock is one block of the text (one marker); wrappers are not
// characters, they are the block's path of containers, kept in its
// attributes as automerge-prosemirror keeps its `parents` (docs/TEXT.md,
// "Blocks"):
// - the first paragraph of a list item: { type: 'bullet' | 'ordered',
//   depth } (what the flat schema writes too), with `parents` (the
//   containers around the item's list, outer first: 'bullet', 'ordered',
//   'blockquote') only when they are not just the `depth` list items
//   around it, which the reader takes from the blocks before;
// - a paragraph directly in a blockquote: { type: 'blockquote', parents? };
// - any other textblock: its own attributes with `parents` when inside
//   containers (a second paragraph of a list item, a heading in a quote).
// Consecutive blocks whose paths share a prefix share those containers;
// a list-type block starts a new item. Reading a path that no valid tree
// has (an item whose parent item was deleted concurrently) drops the
// containers it cannot open, so the document is always valid.
import { WeftError } from './errors.js';

const LIST = new Set(['bullet', 'ordered']);
const CONTAINERS = new Set(['bullet', 'ordered', 'blockquote']);
/** A hard break (Shift-Enter) is this character in the text: a line break that is not a block marker. */
export const HARD_BREAK = '\u2028';

/** Node roles by name: ProseMirror's snake_case and Tiptap's camelCase. */
const ROLE_NAMES = {
  paragraph: 'paragraph', heading: 'heading', code_block: 'code', codeBlock: 'code', blockquote: 'blockquote',
  bullet_list: 'bullet', bulletList: 'bullet', ordered_list: 'ordered', orderedList: 'ordered',
  list_item: 'item', listItem: 'item', hard_break: 'break', hardBreak: 'break', text: 'text',
};

const shapes = new WeakMap();

/**
 * What the binding knows of `schema`: the node type for each role
 * (paragraph, heading, code, blockquote, bullet, ordered, item, break) and
 * whether it is nested (lists are wrapper nodes). Throws WEFT_EINVAL for a
 * schema the binding cannot use (no paragraph or text node).
 */
export function shapeOf(schema) {
  let s = shapes.get(schema);
  if (s) return s;
  const types = {};
  for (const [name, type] of Object.entries(schema.nodes)) {
    const role = ROLE_NAMES[name];
    if (role && !types[role]) types[role] = type;
  }
  if (!types.paragraph?.isTextblock || !types.text)
    throw new WeftError('WEFT_EINVAL', 'weftdb/prosemirror needs a schema with a paragraph textblock and text (weftSchema, prosemirror-schema-basic, Tiptap StarterKit)');
  const nested = !!(types.item && !types.item.isTextblock);
  s = { types, nested };
  shapes.set(schema, s);
  return s;
}

function roleOf(type) {
  return ROLE_NAMES[type.name];
}

/** A textblock's own attributes (as if it stood alone at the top). */
function leafAttrs(node) {
  const passed = Array.isArray(node.attrs.parents) ? { parents: node.attrs.parents } : {};
  switch (roleOf(node.type)) {
    case 'heading': return { type: 'heading', level: node.attrs.level, ...passed };
    case 'code': return { type: 'code', ...passed };
    case 'blockquote': return { type: 'blockquote', ...passed }; // the flat schema's quote textblock
    case 'item': // the flat schema's list item textblock
      return { type: node.attrs.kind === 'ordered' ? 'ordered' : 'bullet', depth: node.attrs.depth, ...passed };
    default: return { type: 'paragraph', ...passed };
  }
}

/** A textblock's attributes given its containers `path` and whether it opens a list item. */
function attrsIn(node, path, opensItem) {
  const leaf = leafAttrs(node);
  if (!path.length) return leaf;
  const inner = path[path.length - 1];
  const outer = path.slice(0, -1);
  if (opensItem && leaf.type === 'paragraph') {
    const attrs = { type: inner, depth: Math.min(outer.filter((p) => LIST.has(p)).length, 15) };
    // Only lists around the item: the reader finds them in the blocks before.
    return outer.every((p) => LIST.has(p)) && outer.length <= 15 ? attrs : { ...attrs, parents: outer };
  }
  if (inner === 'blockquote' && leaf.type === 'paragraph') return outer.length ? { type: 'blockquote', parents: outer } : { type: 'blockquote' };
  return { ...leaf, parents: path };
}

/**
 * @typedef {{ node: import('prosemirror-model').Node, cs: number, attrs: Record<string, unknown> }} Textblock
 * The textblocks of a document in order: each node, the position where
 * its content starts and its block attributes.
 */
const walked = new WeakMap();

/** @returns {Textblock[]} Throws WEFT_EINVAL for a node the text cannot hold. */
export function textblocks(doc) {
  let out = walked.get(doc);
  if (out) return out;
  out = [];
  const walk = (node, base, path) => {
    const role = roleOf(node.type);
    node.forEach((child, offset, i) => {
      const pos = base + offset;
      const r = roleOf(child.type);
      if (child.isTextblock) {
        out.push({ node: child, cs: pos + 1, attrs: attrsIn(child, path, role === 'item' && i === 0) });
        child.forEach((inl) => {
          if (!inl.isText && roleOf(inl.type) !== 'break') throw unsupported(inl);
        });
      } else if (r === 'bullet' || r === 'ordered') {
        child.forEach((item, io) => {
          if (roleOf(item.type) !== 'item') throw unsupported(item);
          walk(item, pos + 1 + io + 1, [...path, r]);
        });
      } else if (r === 'blockquote') walk(child, pos + 1, [...path, 'blockquote']);
      else throw unsupported(child);
    });
  };
  walk(doc, 0, []);
  walked.set(doc, out);
  return out;
}

function unsupported(node) {
  return new WeftError('WEFT_EINVAL', `weftdb/prosemirror cannot store a "${node.type.name}" node in a text (supported: paragraphs, headings, code blocks, blockquotes, bullet and ordered lists, hard breaks, text)`);
}

/** The containers path a block's attributes ask for, given the containers open before it. */
function pathOf(attrs, open) {
  const t = attrs.type;
  let parents = Array.isArray(attrs.parents) && attrs.parents.every((p) => CONTAINERS.has(p)) ? attrs.parents : null;
  if (LIST.has(t)) {
    if (!parents) {
      const d = Number.isInteger(attrs.depth) ? Math.max(0, Math.min(attrs.depth, 15)) : 0;
      const lists = [];
      for (const f of open) if (LIST.has(f.kind) && lists.length < d) lists.push(f.kind); else break;
      parents = [...lists, ...Array(d - lists.length).fill(t)];
    }
    return { path: [...parents, t], opensItem: true };
  }
  if (t === 'blockquote') return { path: [...(parents ?? []), 'blockquote'], opensItem: false };
  return { path: parents ?? [], opensItem: false };
}

/**
 * The nested document of a text's blocks (text.blocks()) for a nested
 * schema: containers rebuilt from the blocks' paths. `leaf(block)` makes
 * the textblock node of a block.
 */
export function nestedDoc(schema, blocks, leaf) {
  const { types } = shapeOf(schema);
  /** @type {{ kind: string, items: import('prosemirror-model').Node[][] }[]} */
  const open = [];
  const top = [];
  const sink = () => (open.length ? open[open.length - 1].items[open[open.length - 1].items.length - 1] : top);
  const close = () => {
    const f = open.pop();
    const node = f.kind === 'blockquote'
      ? types.blockquote.create(null, f.items[0])
      : types[f.kind].create(null, f.items.map((c) => types.item.create(null, c)));
    sink().push(node);
  };
  for (const b of blocks) {
    const node = leaf(b);
    const isParagraph = node.type === types.paragraph;
    let { path, opensItem } = pathOf(b.attrs, open);
    path = path.filter((p) => types[p]); // containers the schema lacks
    const shared = (p) => {
      let k = 0;
      while (k < open.length && k < p.length && open[k].kind === p[k]) k++;
      return k;
    };
    // A list opened here must start its item with this paragraph:
    // containers that cannot be opened are left out (the block goes up).
    let k = shared(path);
    path = [...path.slice(0, k), ...path.slice(k).filter((p, i) => !LIST.has(p) || (k + i === path.length - 1 && isParagraph))];
    k = shared(path);
    while (open.length > k) close();
    if (opensItem && k === path.length && k > 0 && LIST.has(path[k - 1])) open[k - 1].items.push([]); // a new item in the open list
    else for (const kind of path.slice(k)) open.push({ kind, items: [[]] });
    sink().push(node);
  }
  while (open.length) close();
  return schema.topNodeType.create(null, top);
}

/** The text index of document position `pos` (`lead`: the first block has a marker). */
export function pmToFlat(doc, lead, pos) {
  let flat = 0;
  const tbs = textblocks(doc);
  for (let i = 0; i < tbs.length; i++) {
    const { node, cs } = tbs[i];
    if (i > 0 || lead) flat++;
    const ce = cs + node.content.size;
    if (pos <= ce) return flat + Math.max(0, pos - cs);
    flat += node.content.size;
  }
  return flat;
}

/** The document position of text index `x` (a marker maps to the end of the block before it). */
export function flatToPm(doc, lead, x) {
  let flat = 0;
  const tbs = textblocks(doc);
  for (let i = 0; i < tbs.length; i++) {
    const { node, cs } = tbs[i];
    if (i > 0 || lead) flat++;
    if (x <= flat + node.content.size) return cs + Math.max(0, x - flat);
    flat += node.content.size;
  }
  const last = tbs[tbs.length - 1];
  return last ? last.cs + last.node.content.size : 0;
}
