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
const tex = new TeX({packages: AllPackages, formatError: (jax, err) => { throw err; }});
const doc = mathjax.document('', {InputJax: tex, OutputJax: new SVG({fontCache: 'global'})});
const STYLE_ID = 'lrcourse-math-svg';
const style = `<style id="${STYLE_ID}">${adaptor.textContent(doc.outputJax.styleSheet(doc))}</style>`;

const INLINE = /(<span class="math notranslate nohighlight">)\\\(([\s\S]*?)\\\)(<\/span>)/g;
const DISPLAY = /(<div class="math notranslate nohighlight"[^>]*>)([\s\S]*?)(<\/div>)/g;
const DISPLAY_TEX = /\\\[([\s\S]*?)\\\]/;
const SCRIPTS = [
  /\s*<script>window\.MathJax = [^<]*<\/script>/g,
  /\s*<script[^>]*src="[^"]*\/mathjax\/[^"]*"[^>]*><\/script>/g,
];

function unescape(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, '&');
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
  doc.outputJax.fontCache.clearCache();  // each page carries the glyphs it uses, once
  let n = 0;
  let out = html.replace(INLINE, (_, open, source, close) => {
    n += 1;
    return open + typeset(source, false, page) + close;
  });
  out = out.replace(DISPLAY, (whole, open, inner, close) => {
    const m = DISPLAY_TEX.exec(inner);
    if (!m) return whole;
    n += 1;
    return open + inner.replace(DISPLAY_TEX, () => typeset(m[1], true, page)) + close;
  });
  if (n === 0 && !SCRIPTS.some((re) => re.test(html))) continue;
  for (const re of SCRIPTS) out = out.replace(re, '');
  if (n > 0 && !out.includes(STYLE_ID)) {
    out = out.replace('</head>', `${style}\n</head>`);
    const defs = adaptor.outerHTML(doc.outputJax.fontCache.getCache());
    const glyphs = `<svg id="MJX-SVG-global-cache" style="display: none" aria-hidden="true">${defs}</svg>`;
    out = out.replace(/<body([^>]*)>/, (body) => `${body}\n${glyphs}`);
  }
  writeFileSync(page, out);
  formulas += n;
}
console.log(`math typeset at build time: ${formulas} formulas`);
