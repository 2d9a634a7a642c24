// A box that scrolls (a code block, a notebook output or a table wider than the column,
// display math wider than the column: site/phone/phone.css) can be scrolled from the
// keyboard only once it can take the focus (axe-core's rule scrollable-region-focusable),
// so such a box gets tabindex="0"; one that fits does not, so the Tab key does not stop at
// every formula and code cell.
//
// Whether a box scrolls is a question of layout, and asking it of every box at once lays
// out the whole page in one long task (on a long chapter about 1 s on a phone, most of
// Lighthouse's "total blocking time"), sections included that would otherwise be laid out
// only when they come near the screen (site/weight/static/weight/sections.css). So the
// boxes are measured in slices of a few milliseconds while the browser is idle, after the
// page has loaded, and again after the window changes its width or the page its content.
// <html data-scroll-focus="done"> says that a pass has finished. This replaces
// pydata-sphinx-theme's own pass, which measured every box at once on load
// (scripts/sphinx_a11y.py takes it out).
(function () {
  var BOXES = [
    "pre",
    ".cell_output > .output",
    ".jp-RenderedHTMLCommon",
    ".pst-scrollable-table-container",
    'mjx-container[display="true"]',
  ].join(", ");
  var SLICE_MS = 8;
  var pending = [];
  var scheduled = false;

  var idle =
    window.requestIdleCallback ||
    function (callback) {
      return setTimeout(function () {
        callback({ timeRemaining: function () { return SLICE_MS; } });
      }, 1);
    };

  function mark(box) {
    if (box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1) {
      box.tabIndex = 0;
    } else if (box.getAttribute("tabindex") === "0") {
      box.removeAttribute("tabindex");
    }
  }

  function work(deadline) {
    var start = performance.now();
    while (pending.length && performance.now() - start < Math.min(SLICE_MS, deadline.timeRemaining() + 1)) {
      mark(pending.shift());
    }
    if (pending.length) {
      idle(work, { timeout: 500 });
    } else {
      scheduled = false;
      document.documentElement.dataset.scrollFocus = "done";
    }
  }

  function pass() {
    pending = Array.prototype.slice.call(document.querySelectorAll(BOXES));
    document.documentElement.dataset.scrollFocus = "pending";
    if (!scheduled) {
      scheduled = true;
      idle(work, { timeout: 500 });
    }
  }

  var timer = null;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(pass, 300);
  }

  var width = window.innerWidth;
  function start() {
    pass();
    window.addEventListener("resize", function () {
      if (window.innerWidth !== width) {
        width = window.innerWidth;
        later();
      }
    });
    if (document.fonts) document.fonts.ready.then(later);
    var main = document.getElementById("main-content") || document.body;
    new MutationObserver(later).observe(main, { childList: true, subtree: true });
  }

  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
})();
