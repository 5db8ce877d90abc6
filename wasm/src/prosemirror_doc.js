// The ProseMirror side of a weftdb rich text (used by prosemirror.js): the
// schema, and the two-way mapping between a ProseMirror document and the
// text's flat sequence of block markers and characters (docs/TEXT.md,
// "Blocks").
//
// weftSchema is flat: every block is a textblock under the doc (paragraph,
// heading, blockquote, code_block, list_item with `kind` and `depth`),
// exactly the text's blocks; lists and quotes nest by attributes (depth),
// drawn with CSS, not by wrapper nodes. The app's own nested schemas
// (prosemirror-schema-basic + prosemirror-schema-list, Tiptap's StarterKit)
// work too: their wrappers map to the blocks' attributes in
// prosemirror_tree.js. Either way a position maps to an index by counting
// textblocks: block i's content starts one index after its marker.
import { Schema } from 'prosemirror-model';
import { shapeOf, textblocks, nestedDoc, HARD_BREAK } from './prosemirror_tree.js';

export { pmToFlat, flatToPm, shapeOf } from './prosemirror_tree.js';

// Container attributes (`parents`) a nested editor wrote: the flat schema
// keeps them on its blocks so that it does not erase them.
const parents = { parents: { default: null } };

/** The schema the binding reads and writes (marks strong, em, link, code). */
export const weftSchema = new Schema({
  nodes: {
    doc: { content: 'block+' },
    paragraph: { group: 'block', content: 'inline*', attrs: parents, parseDOM: [{ tag: 'p' }], toDOM: () => ['p', 0] },
    heading: {
      group: 'block',
      content: 'inline*',
      attrs: { level: { default: 1 }, ...parents },
      defining: true,
      parseDOM: [1, 2, 3, 4, 5, 6].map((level) => ({ tag: `h${level}`, attrs: { level } })),
      toDOM: (n) => [`h${n.attrs.level}`, 0],
    },
    blockquote: { group: 'block', content: 'inline*', attrs: parents, defining: true, parseDOM: [{ tag: 'blockquote' }], toDOM: () => ['blockquote', 0] },
    code_block: {
      group: 'block',
      content: 'text*',
      attrs: parents,
      marks: '',
      code: true,
      defining: true,
      parseDOM: [{ tag: 'pre', preserveWhitespace: 'full' }],
      toDOM: () => ['pre', ['code', 0]],
    },
    list_item: {
      group: 'block',
      content: 'inline*',
      attrs: { kind: { default: 'bullet' }, depth: { default: 0 }, ...parents },
      defining: true,
      parseDOM: [{ tag: 'li', getAttrs: (el) => ({ kind: el.closest('ol') ? 'ordered' : 'bullet', depth: 0 }) }],
      toDOM: (n) => ['div', {
        class: `weft-pm-li weft-pm-${n.attrs.kind === 'ordered' ? 'ordered' : 'bullet'}`,
        'data-depth': String(n.attrs.depth),
        style: `display: list-item; margin-left: ${1.5 * (n.attrs.depth + 1)}em; list-style-type: ${n.attrs.kind === 'ordered' ? 'decimal' : 'disc'}`,
      }, 0],
    },
    text: { group: 'inline' },
  },
  marks: {
    strong: { parseDOM: [{ tag: 'strong' }, { tag: 'b' }], toDOM: () => ['strong', 0] },
    em: { parseDOM: [{ tag: 'em' }, { tag: 'i' }], toDOM: () => ['em', 0] },
    // A link does not grow when typing after it, as in weftdb (docs/TEXT.md).
    link: {
      attrs: { href: {} },
      inclusive: false,
      parseDOM: [{ tag: 'a[href]', getAttrs: (el) => ({ href: el.getAttribute('href') }) }],
      toDOM: (m) => ['a', { href: m.attrs.href, rel: 'noopener noreferrer nofollow' }, 0],
    },
    code: { parseDOM: [{ tag: 'code' }], toDOM: () => ['code', 0] },
  },
});

/** ProseMirror mark name -> weftdb mark type (ProseMirror's and Tiptap's names); the value is true but for links. */
const MARK_TYPES = { strong: 'bold', bold: 'bold', em: 'italic', italic: 'italic', link: 'link', code: 'code', strike: 'strike', underline: 'underline' };
/** The weftdb mark types the binding writes (others, e.g. comment, it leaves alone). */
export const WEFT_MARKS = [...new Set(Object.values(MARK_TYPES))];

/** The weftdb marks of a text node: { bold: true, link: 'https://…' }. */
export function weftMarks(marks) {
  const out = {};
  for (const m of marks) {
    const type = MARK_TYPES[m.type.name];
    if (type) out[type] = type === 'link' ? String(m.attrs.href) : true;
  }
  return out;
}

function pmMarks(schema, attributes) {
  const out = [];
  for (const [pm, type] of Object.entries(MARK_TYPES)) {
    const v = attributes?.[type];
    const mark = schema.marks[pm];
    if (v === undefined || v === null || v === false || !mark) continue;
    out.push(type === 'link' ? mark.create({ href: String(v) }) : mark.create());
  }
  return out;
}

/** A weftdb block's attributes for a top-level textblock (the flat schema's blocks). */
export function blockAttrs(node) {
  return textblocks(node.type.schema.topNodeType.create(null, [node]))[0].attrs;
}

/** The textblock node type and attributes of a block (`flat`: weftSchema's list items and quotes). */
function nodeFor(schema, attrs, flat) {
  const { types } = shapeOf(schema);
  const pass = flat && Array.isArray(attrs.parents) ? { parents: attrs.parents } : {};
  const depth = Number.isInteger(attrs.depth) ? attrs.depth : 0;
  switch (attrs.type) {
    case 'heading':
      if (types.heading) return [types.heading, { level: Number.isInteger(attrs.level) ? attrs.level : 1, ...pass }];
      break;
    case 'code':
      if (types.code) return [types.code, pass];
      break;
    case 'blockquote':
      if (flat && types.blockquote?.isTextblock) return [types.blockquote, pass];
      break;
    case 'bullet': case 'ordered':
      if (flat && types.item?.isTextblock) return [types.item, { kind: attrs.type, depth, ...pass }];
      break;
  }
  return [types.paragraph, pass]; // unknown types read as paragraphs
}

/** A block's inline content: its spans as marked text, hard breaks for U+2028. */
function inline(schema, type, spans) {
  if (type.spec.code) {
    const s = spans.map((sp) => sp.insert).join('');
    return s ? [schema.text(s)] : [];
  }
  const br = shapeOf(schema).types.break;
  const out = [];
  for (const sp of spans) {
    const marks = pmMarks(schema, sp.attributes);
    const parts = br ? sp.insert.split(HARD_BREAK) : [sp.insert];
    parts.forEach((part, i) => {
      if (i > 0) out.push(br.create(null, null, br.spec.marks === '' ? [] : marks));
      if (part) out.push(schema.text(part, marks));
    });
  }
  return out;
}

/** The ProseMirror document of a text's blocks (text.blocks()), for weftSchema or a nested schema. */
export function docFromBlocks(schema, blocks) {
  const { nested } = shapeOf(schema);
  const leaf = (b) => {
    const [type, attrs] = nodeFor(schema, b.attrs, !nested);
    return type.create(attrs, inline(schema, type, b.spans));
  };
  if (nested) return nestedDoc(schema, blocks, leaf);
  return schema.topNodeType.create(null, blocks.map(leaf));
}

/**
 * Whether a document's text needs a marker before its first block: it is
 * not a plain paragraph, or it is empty and another block follows (else
 * the next block's marker would come first and start the text's first
 * block: the empty paragraph would vanish).
 */
export function needsLead(doc) {
  const tbs = textblocks(doc);
  const first = tbs[0];
  if (!first) return false;
  return first.attrs.type !== 'paragraph' || Object.keys(first.attrs).length > 1 || (first.node.content.size === 0 && tbs.length > 1);
}

/**
 * The text a document stands for: its string, each character's wanted
 * marks (null for block markers and code, whose marks are left alone),
 * each block's marker index (null for a first block without one) and
 * attributes. `lead`: the first block has a marker (the text starts with
 * one, or the block is not a paragraph and needs one). Throws WEFT_EINVAL
 * for a node the text cannot hold (an image, a horizontal rule).
 */
export function flatten(doc, lead) {
  let s = '';
  const want = [];
  const blocks = [];
  textblocks(doc).forEach(({ node, attrs }, i) => {
    let marker = null;
    if (i > 0 || lead) {
      marker = s.length;
      s += '\n';
      want.push(null);
    }
    const code = node.type.spec.code === true;
    blocks.push({ marker, attrs, code });
    node.forEach((child) => {
      const m = code ? null : weftMarks(child.marks);
      const t = child.isText ? child.text : HARD_BREAK;
      s += t;
      for (let k = 0; k < t.length; k++) want.push(m);
    });
  });
  return { s, want, blocks };
}
