/* Small behaviours of the staff UI. Live updates themselves are htmx attributes in the templates. */
(function () {
  "use strict";

  function showRoutingPanel(form) {
    var checked = form.querySelector('input[name="routing_mode"]:checked');
    var mode = checked ? checked.value : "auto";
    form.querySelectorAll("[data-routing-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-routing-panel") !== mode;
    });
  }

  function changed(element) {
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("select[data-autosubmit]")) {
      target.form.submit();
    } else if (target.matches("select[data-navigate]")) {
      window.location.href = target.value;
    } else if (target.matches('input[name="routing_mode"]')) {
      showRoutingPanel(target.form);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("#add-locale")) {
      var rows = document.getElementById("locale-rows");
      var template = document.getElementById("locale-row-template");
      rows.appendChild(template.content.cloneNode(true));
      var inputs = rows.querySelectorAll(".ui-locale-code");
      inputs[inputs.length - 1].focus();
      return;
    }
    var remove = target.closest("[data-remove-row]");
    if (remove) {
      var container = remove.closest(".ui-locale-rows");
      remove.closest(".ui-locale-row").remove();
      changed(container);
      return;
    }
    // Menus close when the click lands elsewhere.
    document.querySelectorAll("details.ui-menu[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("generate-form");
    if (form) showRoutingPanel(form);
  });
})();
