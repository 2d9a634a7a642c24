// Display math wider than the column scrolls in its own box (site/phone/phone.css). A
// keyboard user scrolls such a box only once it can take the focus (axe-core's rule
// scrollable-region-focusable), so a box that scrolls gets tabindex="0"; one that fits
// does not, so the Tab key does not stop at every formula. The fonts and the window's
// width change the widths (and MathJax's runtime, where it runs, adds its output late).
(function () {
  function mark() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0;
      } else {
        box.removeAttribute("tabindex");
      }
    });
  }
  new MutationObserver(mark).observe(document.documentElement, { childList: true, subtree: true });
  window.addEventListener("resize", mark);
  if (document.fonts) document.fonts.ready.then(mark);
})();
