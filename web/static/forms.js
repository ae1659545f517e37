// The rules editor: each condition or action offers the values of its own
// kind only — a list to pick from (statuses, groups, agents by name, …) or
// a box to type in (text, tags, hours) — as the server drew it, following
// the choice of kind.
(function () {
  "use strict";

  function sync(row) {
    var kind = row.querySelector("[data-rule-kind]");
    var pick = row.querySelector("[data-rule-pick]");
    var text = row.querySelector("[data-rule-text]");
    if (!kind || !pick || !text) return;
    var k = " " + kind.value + " ", any = false;
    pick.querySelectorAll("optgroup[data-for]").forEach(function (g) {
      var on = kind.value !== "" && (" " + g.getAttribute("data-for") + " ").indexOf(k) >= 0;
      g.hidden = !on;
      g.disabled = !on;
      if (on) any = true;
    });
    var chosen = pick.options[pick.selectedIndex];
    if (chosen && chosen.parentNode.disabled) pick.value = "";
    pick.hidden = !any;
    text.hidden = any;
    if (any) text.value = "";
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-rule-kind]")) sync(e.target.closest("[data-rule-row]"));
  });
})();
