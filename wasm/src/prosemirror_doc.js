// The ProseMirror side of a weftdb rich text (used by prosemirror.js): the
// schema, and the two-way mapping between a ProseMirror document and the
// text's flat sequence of block markers and characters (docs/TEXT.md,
// "Blocks").
//
// The schema is flat on purpose: every block is a textblock under the doc
// (paragraph, heading, blockquote, code_block, list_item with `kind` and
// `depth`), exactly the text's blocks, so a position maps to an index by
// counting: block i's content starts one index after its marker. Lists
// and quotes nest by attributes (depth), drawn with CSS, not by wrapper
// nodes.
import { Schema } from 'prosemirror-model';

/** The schema the binding reads and writes (marks strong, em, link, code). */
export const weftSchema = new Schema({
  nodes: {
    doc: { content: 'block+' },
    paragraph: { group: 'block', content: 'inline*', parseDOM: [{ tag: 'p' }], toDOM: () => ['p', 0] },
    heading: {
      group: 'block',
      content: 'inline*',
      attrs: { level: { default: 1 } },
      defining: true,
      parseDOM: [1, 2, 3, 4, 5, 6].map((level) => ({ tag: `h${level}`, attrs: { level } })),
      toDOM: (n) => [`h${n.attrs.level}`, 0],
    },
    blockquote: { group: 'block', content: 'inline*', defining: true, parseDOM: [{ tag: 'blockquote' }], toDOM: () => ['blockquote', 0] },
    code_block: {
      group: 'block',
      content: 'text*',
      marks: '',
      code: true,
      defining: true,
      parseDOM: [{ tag: 'pre', preserveWhitespace: 'full' }],
      toDOM: () => ['pre', ['code', 0]],
    },
    list_item: {
      group: 'block',
      content: 'inline*',
      attrs: { kind: { default: 'bullet' }, depth: { default: 0 } },
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

/** ProseMirror mark name -> weftdb mark type; the value is true but for links. */
const MARK_TYPES = { strong: 'bold', em: 'italic', link: 'link', code: 'code' };
/** The weftdb mark types the binding writes (others, e.g. comment, it leaves alone). */
export const WEFT_MARKS = Object.values(MARK_TYPES);

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
    if (v === undefined || v === null || v === false || !schema.marks[pm]) continue;
    out.push(pm === 'link' ? schema.marks.link.create({ href: String(v) }) : schema.marks[pm].create());
  }
  return out;
}

/** A weftdb block's attributes for a ProseMirror block node. */
export function blockAttrs(node) {
  switch (node.type.name) {
    case 'heading': return { type: 'heading', level: node.attrs.level };
    case 'blockquote': return { type: 'blockquote' };
    case 'code_block': return { type: 'code' };
    case 'list_item': return { type: node.attrs.kind === 'ordered' ? 'ordered' : 'bullet', depth: node.attrs.depth };
    default: return { type: 'paragraph' };
  }
}

function nodeFor(schema, attrs) {
  const n = schema.nodes;
  const depth = Number.isInteger(attrs.depth) ? attrs.depth : 0;
  switch (attrs.type) {
    case 'heading': return [n.heading, { level: Number.isInteger(attrs.level) ? attrs.level : 1 }];
    case 'blockquote': return [n.blockquote, null];
    case 'code': return [n.code_block, null];
    case 'bullet': case 'ordered': return [n.list_item, { kind: attrs.type, depth }];
    default: return [n.paragraph, null]; // unknown types read as paragraphs
  }
}

/** The ProseMirror document of a text's blocks (text.blocks()). */
export function docFromBlocks(schema, blocks) {
  const nodes = blocks.map((b) => {
    const [type, attrs] = nodeFor(schema, b.attrs);
    const content = type.spec.code
      ? (b.spans.map((s) => s.insert).join('') ? [schema.text(b.spans.map((s) => s.insert).join(''))] : [])
      : b.spans.filter((s) => s.insert).map((s) => schema.text(s.insert, pmMarks(schema, s.attributes)));
    return type.create(attrs, content);
  });
  return schema.topNodeType.create(null, nodes);
}

/**
 * The text a document stands for: its string, each character's wanted
 * marks (null for block markers and code, whose marks are left alone),
 * each block's marker index (null for a first block without one) and
 * attributes. `lead`: the first block has a marker (the text starts with
 * one, or the block is not a paragraph and needs one).
 */
export function flatten(doc, lead) {
  let s = '';
  const want = [];
  const blocks = [];
  doc.forEach((node, _o, i) => {
    const attrs = blockAttrs(node);
    let marker = null;
    if (i > 0 || lead) {
      marker = s.length;
      s += '\n';
      want.push(null);
    }
    blocks.push({ marker, attrs, code: node.type.spec.code === true });
    node.forEach((child) => {
      if (!child.isText) return;
      const m = node.type.spec.code ? null : weftMarks(child.marks);
      s += child.text;
      for (let k = 0; k < child.text.length; k++) want.push(m);
    });
  });
  return { s, want, blocks };
}

/** The text index of document position `pos` (`lead` as for flatten). */
export function pmToFlat(doc, lead, pos) {
  let flat = 0;
  let p = 0;
  for (let i = 0; i < doc.childCount; i++) {
    const node = doc.child(i);
    if (i > 0 || lead) flat++;
    const cs = p + 1;
    const ce = cs + node.content.size;
    if (pos <= ce) return flat + Math.max(0, pos - cs);
    flat += node.content.size;
    p = ce + 1;
  }
  return flat;
}

/** The document position of text index `x` (a marker maps to the end of the block before it). */
export function flatToPm(doc, lead, x) {
  let flat = 0;
  let p = 0;
  for (let i = 0; i < doc.childCount; i++) {
    const node = doc.child(i);
    if (i > 0 || lead) flat++;
    const cs = p + 1;
    if (x <= flat + node.content.size) return cs + Math.max(0, x - flat);
    flat += node.content.size;
    p = cs + node.content.size + 1;
  }
  return Math.max(1, p - 1);
}
