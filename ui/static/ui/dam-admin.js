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

  // The Content-Security-Policy allows no style attributes and no inline handlers: values computed
  // on the server travel as data attributes and are applied here through the CSSOM (which CSP allows).
  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function applyComputedStyles(root) {
    within(root, "[data-width]").forEach(function (el) {
      var percent = parseFloat(el.getAttribute("data-width"));
      if (!isNaN(percent)) el.style.width = Math.max(0, Math.min(100, percent)) + "%";
    });
    within(root, "[data-aspect]").forEach(function (el) {
      el.style.aspectRatio = el.getAttribute("data-aspect");
    });
    within(root, "[data-swatch]").forEach(function (el) {
      el.style.backgroundColor = el.getAttribute("data-swatch");
    });
  }

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // htmx swaps in plan panels, job progress and estimates: style what each swap brings.
  document.addEventListener("htmx:load", function (event) {
    applyComputedStyles(event.target);
  });

  document.addEventListener("DOMContentLoaded", function () {
    applyComputedStyles(document);
    var form = document.getElementById("generate-form");
    if (form) showRoutingPanel(form);
  });
})();
