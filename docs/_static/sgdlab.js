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
