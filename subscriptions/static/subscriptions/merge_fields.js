// The merge-field picker beside the campaign body: a click inserts the field at the cursor of
// the field last focused (the body editor, the subject or the text body); the body by default.
(function () {
  "use strict";
  var last = null;

  function isTarget(element) {
    if (!element || !element.closest) return false;
    if (element.closest(".ProseMirror[contenteditable]")) return true;
    return element.matches("#id_subject, #id_text_body, textarea[data-merge-target], input[name$='-subject'], textarea[name$='-text_body']");
  }

  document.addEventListener("focusin", function (event) {
    if (isTarget(event.target)) {
      last = event.target.closest(".ProseMirror[contenteditable]") || event.target;
    }
  });

  function defaultTarget() {
    return (
      document.querySelector(".ProseMirror[contenteditable]") ||
      document.querySelector("#id_body_source")
    );
  }

  function insert(target, text) {
    if (target.isContentEditable) {
      target.focus();
      // The editor (ProseMirror) turns the browser's own text insertion into its transaction.
      document.execCommand("insertText", false, text);
      return;
    }
    var start = target.selectionStart == null ? target.value.length : target.selectionStart;
    var end = target.selectionEnd == null ? start : target.selectionEnd;
    target.setRangeText(text, start, end, "end");
    target.focus();
    target.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-merge-field]");
    if (!button) return;
    event.preventDefault();
    var target = last && document.contains(last) ? last : defaultTarget();
    if (target) insert(target, button.getAttribute("data-merge-field"));
  });

  // The editor draws its own contenteditable box, with no name for screen readers: give it the
  // label of the field it edits (the hidden textarea beside it).
  function nameEditors() {
    document.querySelectorAll(".ProseMirror[contenteditable]").forEach(function (editor) {
      if (editor.hasAttribute("aria-label")) return;
      var box = editor.closest(".prose-editor") || editor.parentElement;
      var field = box && box.parentElement && box.parentElement.querySelector("textarea[id]");
      var label = field && document.querySelector('label[for="' + field.id + '"]');
      editor.setAttribute("aria-label", label ? label.textContent.replace(/[*:]/g, "").trim() : "Body");
    });
  }
  new MutationObserver(nameEditors).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", nameEditors);
})();
