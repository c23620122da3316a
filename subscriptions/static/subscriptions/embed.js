// The embedded preference page tells the page framing it how tall it is, so the host's iframe
// grows and shrinks with it (a notice after saving, an error list): {type, height} posted to
// each origin allowed to frame it (postMessage drops a message whose origin does not match the
// parent's, so the height reaches the host and nobody else).
(function () {
  "use strict";
  var script = document.currentScript;
  var origins = (script && script.getAttribute("data-parent-origins") || "").split(" ").filter(Boolean);
  if (window.parent === window || origins.length === 0) return;
  var last = 0;
  function post() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    origins.forEach(function (origin) {
      window.parent.postMessage({ type: "prefcenter:height", height: height }, origin);
    });
  }
  function start() {
    post();
    if (window.ResizeObserver) new ResizeObserver(post).observe(document.body);
    window.addEventListener("resize", post);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
