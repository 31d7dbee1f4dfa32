/* Review board: keyboard shortcuts (j/k move, x select, a approve, p approve and publish, r reject with a comment,
   Esc cancel), filters that apply on change, and the selection for bulk decisions: click, shift-click a range,
   a group, the page, or every version matching the filter; the reject dialog asks one comment for all. */
(function () {
  "use strict";

  var bar = document.getElementById("bulk-form");
  var lastClicked = null;

  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-review-item]")); }
  function boxes(root) { return Array.prototype.slice.call((root || document).querySelectorAll("[data-select]")); }
  function current() { return document.querySelector("[data-review-item].is-current") || items()[0]; }

  function select(item) {
    if (!item) return;
    items().forEach(function (el) { el.classList.toggle("is-current", el === item); });
    item.scrollIntoView({ block: "center", behavior: "smooth" });
    item.focus({ preventScroll: true });
  }

  function move(step) {
    var all = items(), index = all.indexOf(current());
    select(all[Math.min(all.length - 1, Math.max(0, index + step))]);
  }

  function openReject(item) {
    var box = item.querySelector("[data-comment-box]");
    if (!box) return;
    box.hidden = false;
    item.querySelector("[data-reject-confirm]").hidden = false;
    item.querySelector("[data-reject-open]").hidden = true;
    box.querySelector("textarea").required = true;
    box.querySelector("textarea").focus();
  }

  function closeReject(item) {
    var box = item.querySelector("[data-comment-box]");
    if (!box) return;
    box.hidden = true;
    box.querySelector("textarea").required = false;
    item.querySelector("[data-reject-confirm]").hidden = true;
    item.querySelector("[data-reject-open]").hidden = false;
  }

  // --- selection ---------------------------------------------------------------------------------

  function scope() { return bar ? bar.querySelector("[data-scope]") : null; }
  function matchingAll() { var s = scope(); return !!(s && s.value === "matching"); }

  function plural(n) { return n + " version" + (n === 1 ? "" : "s"); }

  function refresh() {
    if (!bar) return;
    var all = boxes(), chosen = all.filter(function (b) { return b.checked; });
    all.forEach(function (b) { b.closest("[data-review-item]").classList.toggle("is-selected", b.checked); });
    var matching = matchingAll();
    var count = matching ? Number(bar.getAttribute("data-total")) : chosen.length;
    bar.querySelector("[data-selected-count]").textContent = matching
      ? "All " + plural(count) + " matching the filter selected"
      : (count ? plural(count) + " selected" : "None selected");
    bar.classList.toggle("has-selection", count > 0);
    bar.querySelectorAll("[data-bulk-action]").forEach(function (b) { b.disabled = count === 0; });
    var page = document.getElementById("select-page");
    if (page) {
      page.checked = all.length > 0 && chosen.length === all.length;
      page.indeterminate = chosen.length > 0 && chosen.length < all.length;
    }
    document.querySelectorAll("[data-select-group]").forEach(function (g) {
      var own = boxes(g.closest("[data-review-group]")), on = own.filter(function (b) { return b.checked; });
      g.checked = own.length > 0 && on.length === own.length;
      g.indeterminate = on.length > 0 && on.length < own.length;
    });
    var matchButton = bar.querySelector("[data-select-matching]");
    if (matchButton) matchButton.hidden = matching;
    bar.querySelector("[data-clear-selection]").hidden = count === 0;
    var rejectCount = bar.querySelector("[data-reject-count]");
    if (rejectCount) rejectCount.textContent = plural(count);
  }

  function setAll(list, on) { list.forEach(function (b) { b.checked = on; }); }

  function leaveMatching() { var s = scope(); if (s) s.value = ""; }

  function onBoxClick(event, box) {
    leaveMatching();
    var all = boxes();
    if (event.shiftKey && lastClicked && lastClicked !== box) {
      var a = all.indexOf(lastClicked), b = all.indexOf(box);
      setAll(all.slice(Math.min(a, b), Math.max(a, b) + 1), box.checked);
    }
    lastClicked = box;
    refresh();
  }

  function stickBelowHeader() {
    // The top bar wraps to two rows on narrow screens: the decision bar sits right under it, whatever its height.
    var header = document.getElementById("header");
    if (bar && header) bar.style.top = Math.round(header.getBoundingClientRect().height) + 6 + "px";
  }

  document.addEventListener("click", function (event) {
    var box = event.target.closest("[data-select]");
    if (box) { onBoxClick(event, box); return; }
    if (event.target.closest("[data-select-page]")) {
      leaveMatching();
      setAll(boxes(), event.target.checked);
      refresh();
      return;
    }
    var group = event.target.closest("[data-select-group]");
    if (group) {
      leaveMatching();
      setAll(boxes(group.closest("[data-review-group]")), group.checked);
      refresh();
      return;
    }
    if (event.target.closest("[data-select-matching]")) {
      setAll(boxes(), true);
      scope().value = "matching";
      refresh();
      return;
    }
    if (event.target.closest("[data-clear-selection]")) {
      leaveMatching();
      setAll(boxes(), false);
      refresh();
      return;
    }
    if (event.target.closest("[data-bulk-reject]")) {
      var dialog = document.getElementById("reject-dialog");
      dialog.querySelector("textarea").required = true;
      dialog.showModal();
      dialog.querySelector("textarea").focus();
      return;
    }
    if (event.target.closest("[data-dialog-cancel]")) {
      event.target.closest("dialog").close();
      return;
    }
    // Which of the two approve buttons was pressed travels in the form's `publish` field.
    var approve = event.target.closest("[data-approve], [data-approve-publish]");
    if (approve) approve.form.publish.value = approve.hasAttribute("data-approve-publish") ? "1" : "";
    var rejectOpen = event.target.closest("[data-reject-open]");
    if (rejectOpen) { var item = rejectOpen.closest("[data-review-item]"); select(item); openReject(item); return; }
    var clicked = event.target.closest("[data-review-item]");
    if (clicked && !clicked.classList.contains("is-current")) {
      items().forEach(function (el) { el.classList.toggle("is-current", el === clicked); });
    }
  });

  // Filters apply as soon as one changes: one less click per filter.
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field) field.form.submit();
  });

  document.addEventListener("keydown", function (event) {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;  // the dialog has the keyboard
    var typing = event.target.matches("textarea, input:not([type=checkbox]), select");
    var item = current();
    if (!item) return;
    if (event.key === "Escape") { closeReject(item); item.focus(); return; }
    if (typing) return;
    var button;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "x":
        button = item.querySelector("[data-select]");
        if (button) { button.checked = !button.checked; leaveMatching(); lastClicked = button; refresh(); }
        break;
      case "a":
        button = item.querySelector("[data-approve]");
        if (button) button.click();
        break;
      case "p":
        button = item.querySelector("[data-approve-publish]");
        if (button) button.click();
        break;
      case "r": openReject(item); break;
      default: return;
    }
    event.preventDefault();
  });

  // Closed by Cancel or Esc: the comment is no longer required, or it would block the other decisions' submit.
  var rejectDialog = document.getElementById("reject-dialog");
  if (rejectDialog) {
    rejectDialog.addEventListener("close", function () { rejectDialog.querySelector("textarea").required = false; });
  }

  stickBelowHeader();
  window.addEventListener("resize", stickBelowHeader);
  refresh();
})();
