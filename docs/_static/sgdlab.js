// The theme's sidebar toggles are <summary> elements that hold only an icon, so a screen
// reader announces nothing (axe-core: summary-name). Name each after the section it opens.
document.addEventListener("DOMContentLoaded", () => {
  for (const summary of document.querySelectorAll("details > summary")) {
    if (summary.textContent.trim() || summary.hasAttribute("aria-label")) continue;
    const link = summary.parentElement.previousElementSibling;
    const section = link ? link.textContent.trim() : "";
    summary.setAttribute("aria-label", section ? `Pages under ${section}` : "More pages");
  }
});

// A table wider than its box scrolls inside it: mark the box, so that it says so (sgdlab.css)
// and keeps its first column in view. Checked again when the window changes size.
function markScrollingTables() {
  for (const box of document.querySelectorAll(".bd-article .table-wrapper, .bd-article .pst-scrollable-table-container")) {
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("sgdlab-scrolls", scrolls);
    if (scrolls) {
      box.setAttribute("tabindex", "0");  // reachable and scrollable with the keyboard
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Table, scrolls sideways");
    }
  }
}
document.addEventListener("DOMContentLoaded", markScrollingTables);
window.addEventListener("resize", markScrollingTables);
