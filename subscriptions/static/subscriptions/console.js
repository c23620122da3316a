// The staff console's small behaviours, loaded as a file so the strict Content-Security-Policy
// needs no inline script. A button with data-copy-target copies that element's text.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = source.textContent.trim();
  const done = () => {
    const label = button.textContent;
    button.textContent = button.dataset.copiedText || "Copied";
    setTimeout(() => { button.textContent = label; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
    done();
  }
});

// Django's two-list selector (filter_horizontal: roles' permissions, users' groups) puts an
// aria-label on a bare <span>, which ARIA forbids; as an image with that label it is allowed
// and screen readers still hear it. It is built on window load, so this runs right after.
window.addEventListener("load", () => {
  setTimeout(() => {
    for (const icon of document.querySelectorAll("span[aria-label]:not([role])")) {
      icon.setAttribute("role", "img");
    }
  }, 0);
});

// Fields edited in a list (list_editable) have no label of their own: each is named after its
// column and its row, so a screen reader says "position, Product news" rather than "edit text".
window.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("result_list");
  if (!table) return;
  const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    const rowName = (row.querySelector("th") || row.querySelector("td:nth-child(2)") || row).textContent.trim();
    row.querySelectorAll("td, th").forEach((cell, index) => {
      for (const field of cell.querySelectorAll("input:not([type=hidden]):not(.action-select), select, textarea")) {
        if (field.labels && field.labels.length) continue;
        if (field.hasAttribute("aria-label")) continue;
        field.setAttribute("aria-label", `${headers[index] || field.name}, ${rowName}`);
      }
    });
  }
});
