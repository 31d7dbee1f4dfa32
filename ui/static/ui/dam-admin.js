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

/* The asset browser's multi-select (click, shift-click for a range, every asset matching the filter) and
   the asset page's focal point picker with its before/after crop previews. */
(function () {
  "use strict";

  // --- multi-select -------------------------------------------------------------------------
  var lastPicked = null;

  function bulkForm() {
    return document.querySelector("form[data-bulk]");
  }

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input[data-pick]"));
  }

  function refreshBulk() {
    var form = bulkForm();
    if (!form) return;
    var all = form.querySelector("[data-bulk-all]");
    var picked = boxes().filter(function (box) { return box.checked; });
    boxes().forEach(function (box) {
      box.closest(".ui-pick-card").classList.toggle("is-picked", box.checked);
    });
    var everything = all.value === "1";
    var count = everything ? parseInt(form.getAttribute("data-total"), 10) : picked.length;
    // Past the page's counting cap the total reads "10,000+" (data-total is then the cap + 1).
    var label = everything && form.getAttribute("data-total-label");
    form.querySelector("[data-bulk-count]").textContent = label || count.toLocaleString();
    form.classList.toggle("has-selection", count > 0);
    form.querySelector("[data-bulk-clear]").hidden = count === 0;
    form.querySelectorAll("[data-bulk-apply], [data-bulk-download]").forEach(function (button) {
      button.disabled = count === 0;
    });
    var grid = document.querySelector(".ui-asset-grid");
    if (grid) grid.classList.toggle("is-selecting", count > 0);
    showBulkFields(form);
  }

  function showBulkFields(form) {
    var verb = form.querySelector("[data-bulk-verb]");
    if (!verb) return;
    var action = verb.value;
    form.querySelectorAll("[data-bulk-for]").forEach(function (field) {
      field.hidden = field.getAttribute("data-bulk-for").split(" ").indexOf(action) === -1;
    });
  }

  function pick(box, checked, shift) {
    var list = boxes();
    var form = bulkForm();
    // A change by hand ends "every asset matching": the selection is what is ticked again.
    if (form) form.querySelector("[data-bulk-all]").value = "0";
    if (shift && lastPicked && list.indexOf(lastPicked) !== -1) {
      var from = list.indexOf(lastPicked), to = list.indexOf(box);
      var low = Math.min(from, to), high = Math.max(from, to);
      for (var i = low; i <= high; i++) list[i].checked = checked;
    } else {
      box.checked = checked;
    }
    lastPicked = box;
    refreshBulk();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var box = target.closest && target.closest("input[data-pick]");
    if (box) {
      // The browser has already toggled the box; a shift-click extends that state over the range.
      pick(box, box.checked, event.shiftKey);
      return;
    }
    var card = target.closest && target.closest(".ui-pick-card");
    if (card && !event.metaKey && !event.ctrlKey && (event.shiftKey || document.querySelector(".is-selecting"))) {
      // While selecting, a click on a card ticks it instead of opening it.
      event.preventDefault();
      var cardBox = card.querySelector("input[data-pick]");
      pick(cardBox, !cardBox.checked, event.shiftKey);
      return;
    }
    var form = bulkForm();
    if (!form || !form.contains(target)) return;
    if (target.closest("[data-bulk-page]") || target.closest("[data-bulk-everything]")) {
      boxes().forEach(function (b) { b.checked = true; });
      form.querySelector("[data-bulk-all]").value = target.closest("[data-bulk-everything]") ? "1" : "0";
      refreshBulk();
    } else if (target.closest("[data-bulk-clear]")) {
      boxes().forEach(function (b) { b.checked = false; });
      form.querySelector("[data-bulk-all]").value = "0";
      lastPicked = null;
      refreshBulk();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-bulk-verb]")) showBulkFields(bulkForm());
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-bulk]")) return;
    var verb = form.querySelector("[data-bulk-verb]");
    var exporting = event.submitter && event.submitter.hasAttribute("data-bulk-download");
    if (!exporting && verb && verb.value === "reject" && !form.querySelector("input[name=comment]").value.trim()) {
      event.preventDefault();
      form.querySelector("input[name=comment]").focus();
      return;
    }
    var everything = form.querySelector("[data-bulk-all]").value === "1";
    var total = parseInt(form.getAttribute("data-total"), 10);
    var max = parseInt(form.getAttribute("data-max"), 10);
    if (everything && total > max) {
      event.preventDefault();
      window.alert("At most " + max.toLocaleString() + " assets at once: narrow the filter.");
    }
  });

  // --- focal point --------------------------------------------------------------------------
  function clamp(value, low, high) {
    return Math.max(low, Math.min(high, value));
  }

  // The crop the renderer cuts (dam.renditions.geometry.fill_box): the target's aspect, centred on the
  // point and pushed back inside the image; shown with object-position on an object-fit: cover image.
  function placeCrop(img, point, imageWidth, imageHeight) {
    var aspect = parseFloat(img.getAttribute("data-crop-width")) / parseFloat(img.getAttribute("data-crop-height"));
    var x = 50, y = 50;
    if (imageWidth / imageHeight > aspect) {
      var cropWidth = imageHeight * aspect;
      var spareX = imageWidth - cropWidth;
      if (spareX > 0) x = clamp(point.x * imageWidth - cropWidth / 2, 0, spareX) / spareX * 100;
    } else {
      var cropHeight = imageWidth / aspect;
      var spareY = imageHeight - cropHeight;
      if (spareY > 0) y = clamp(point.y * imageHeight - cropHeight / 2, 0, spareY) / spareY * 100;
    }
    img.style.objectPosition = x.toFixed(2) + "% " + y.toFixed(2) + "%";
  }

  function showFocal(form, point) {
    var width = parseFloat(form.getAttribute("data-image-width"));
    var height = parseFloat(form.getAttribute("data-image-height"));
    var marker = form.querySelector("[data-focal-marker]");
    marker.style.left = (point.x * 100).toFixed(2) + "%";
    marker.style.top = (point.y * 100).toFixed(2) + "%";
    form.querySelector("[data-focal-label]").textContent = point.x.toFixed(2) + ", " + point.y.toFixed(2);
    form.querySelectorAll('img[data-crop="picked"]').forEach(function (img) { placeCrop(img, point, width, height); });
  }

  function setupFocal(form) {
    var saved = {
      x: parseFloat(form.getAttribute("data-saved-x")),
      y: parseFloat(form.getAttribute("data-saved-y"))
    };
    var width = parseFloat(form.getAttribute("data-image-width"));
    var height = parseFloat(form.getAttribute("data-image-height"));
    form.querySelectorAll('img[data-crop="saved"]').forEach(function (img) { placeCrop(img, saved, width, height); });
    showFocal(form, saved);
    var picker = form.querySelector("[data-focal-picker]");
    var current = { x: saved.x, y: saved.y };
    function choose(point) {
      current = {
        x: Math.round(clamp(point.x, 0, 1) * 10000) / 10000,
        y: Math.round(clamp(point.y, 0, 1) * 10000) / 10000
      };
      form.querySelector("[data-focal-x]").value = current.x;
      form.querySelector("[data-focal-y]").value = current.y;
      showFocal(form, current);
    }
    picker.addEventListener("click", function (event) {
      var box = picker.querySelector("img").getBoundingClientRect();
      choose({ x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height });
    });
    // Without a mouse: the arrow keys move the point (with Shift in bigger steps).
    var moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    picker.addEventListener("keydown", function (event) {
      var move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      var step = event.shiftKey ? 0.1 : 0.02;
      choose({ x: current.x + move[0] * step, y: current.y + move[1] * step });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshBulk();
    document.querySelectorAll("form[data-focal]").forEach(setupFocal);
  });
})();
