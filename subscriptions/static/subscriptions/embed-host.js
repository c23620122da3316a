// For the host product's page that frames prefcenter's preference page (the template tag
// prefcenter_preferences_iframe loads it; docs/integrating.md has the same few lines to paste):
// every iframe marked data-prefcenter-preferences takes the height its page posts, and only
// from that page (its own window and origin).
(function () {
  "use strict";
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "prefcenter:height" || typeof data.height !== "number") return;
    var frames = document.querySelectorAll("iframe[data-prefcenter-preferences]");
    for (var i = 0; i < frames.length; i++) {
      var frame = frames[i];
      if (frame.contentWindow === event.source && new URL(frame.src).origin === event.origin) {
        frame.style.height = Math.max(0, Math.ceil(data.height)) + "px";
      }
    }
  });
})();
