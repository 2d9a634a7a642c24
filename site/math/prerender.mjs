// Typeset every formula of the built pages at build time, as SVG, so that no page needs
// MathJax's runtime script (0.76 MB) and a reader's browser does no typesetting.
//
//   node site/math/prerender.mjs page.html ...
//
// Sphinx writes inline math as <span class="math ...">\(...\)</span> and display math as
// <div class="math ..."> ... \[...\]</div> (its equation number beside). Each formula
// becomes what MathJax 3 would put there at run time: an <mjx-container> holding the
// SVG (hidden from screen readers) and the formula as MathML (read by them, the
// assistive-MathML extension MathJax's runtime used too). The glyphs' outlines are
// stored once a page, in a hidden <svg> at the top of its body that every formula
// points into, and the SVG output's small style sheet goes into the page's head. The page then loses MathJax's two <script> tags.
// A TeX error stops the build, naming the page and the formula.
import {readFileSync, writeFileSync} from 'node:fs';
import {mathjax} from 'mathjax-full/js/mathjax.js';
import {TeX} from 'mathjax-full/js/input/tex.js';
import {SVG} from 'mathjax-full/js/output/svg.js';
import {liteAdaptor} from 'mathjax-full/js/adaptors/liteAdaptor.js';
import {RegisterHTMLHandler} from 'mathjax-full/js/handlers/html.js';
import {AssistiveMmlHandler} from 'mathjax-full/js/a11y/assistive-mml.js';
import {AllPackages} from 'mathjax-full/js/input/tex/AllPackages.js';

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
// An undefined macro or a TeX error is an error here, not red text on the page.
const PACKAGES = AllPackages.filter((name) => !['noundefined', 'noerrors'].includes(name));
let doc = null;

function newDocument() {  // one a page: no \label or macro of a page leaks into the next
  return mathjax.document('', {
    InputJax: new TeX({packages: PACKAGES, formatError: (jax, err) => { throw err; }}),
    OutputJax: new SVG({fontCache: 'global'}),
  });
}

const STYLE_ID = 'lrcourse-math-svg';
const style = (() => {
  const d = newDocument();
  return `<style id="${STYLE_ID}">${adaptor.textContent(d.outputJax.styleSheet(d))}</style>`;
})();

// Sphinx marks math with the class "math" (with others: "amsmath", "notranslate", ...):
// inline \(...\) in a <span>; display math in a <div>, as \[...\] or, for an amsmath
// environment, as the bare environment, after the equation number's <span class="eqno">.
const INLINE = /(<span class="(?:[^"]* )?math(?: [^"]*)?">)\\\(([\s\S]*?)\\\)(<\/span>)/g;
const DISPLAY = /(<div class="(?:[^"]* )?math(?: [^"]*)?"[^>]*>)([\s\S]*?)(<\/div>)/g;
const DISPLAY_TEX = /\\\[([\s\S]*?)\\\]/;
const EQNO = /^(\s*<span class="eqno">[\s\S]*?<\/span>)?([\s\S]*)$/;
const SCRIPTS = [
  /\s*<script>window\.MathJax = [^<]*<\/script>/g,
  /\s*<script[^>]*src="[^"]*\/mathjax\/[^"]*"[^>]*><\/script>/g,
];

function unescape(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

function typeset(source, display, page) {
  try {
    return adaptor.outerHTML(doc.convert(unescape(source).trim(), {display}));
  } catch (err) {
    throw new Error(`${page}: cannot typeset ${JSON.stringify(source.trim())}: ${err.message}`);
  }
}

let formulas = 0;
for (const page of process.argv.slice(2)) {
  const html = readFileSync(page, 'utf8');
  doc = newDocument();  // each page carries the glyphs it uses, once
  let n = 0;
  let out = html.replace(INLINE, (_, open, source, close) => {
    n += 1;
    return open + typeset(source, false, page) + close;
  });
  out = out.replace(DISPLAY, (whole, open, inner, close) => {
    if (inner.includes('<mjx-container')) return whole;  // typeset already
    const m = DISPLAY_TEX.exec(inner);
    n += 1;
    if (m) return open + inner.replace(DISPLAY_TEX, () => typeset(m[1], true, page)) + close;
    const [, eqno = '', tex] = EQNO.exec(inner);  // an amsmath environment, bare
    return open + eqno + typeset(tex, true, page) + close;
  });
  if (n === 0 && !SCRIPTS.some((re) => html.search(re) >= 0)) continue;
  for (const re of SCRIPTS) out = out.replace(re, '');
  if (n > 0 && !out.includes(STYLE_ID)) {
    const head = out.indexOf('</head>');
    const body = /<body\b[^>]*>/.exec(out.slice(head));
    if (head < 0 || !body) throw new Error(`${page}: no </head> and <body> to put the math's style and glyphs in`);
    const defs = adaptor.outerHTML(doc.outputJax.fontCache.getCache());
    const glyphs = `<svg id="MJX-SVG-global-cache" style="display: none" aria-hidden="true">${defs}</svg>`;
    const at = head + body.index + body[0].length;
    out = out.slice(0, head) + style + '\n' + out.slice(head, at) + '\n' + glyphs + out.slice(at);
  }
  writeFileSync(page, out);
  formulas += n;
}
console.log(`math typeset at build time: ${formulas} formulas`);
