/* The capacity page: live cells polled from live/ every few seconds and written in place (no reload, so ticked
   boxes and open forms stay as they are), the edit dialogs, and the bulk bar's count. */
(function () {
  "use strict";

  var root = null;
  var timer = null;
  var failures = 0;

  function setText(el, value) {
    // A breaker that never opened has no "since": an empty cell, not a dash.
    var empty = el.getAttribute("data-live") === "opened" ? "" : "\u2014";
    var text = value === null || value === undefined || value === "" ? empty : String(value);
    if (el.textContent !== text) el.textContent = text;
  }

  function applyMember(row, live) {
    var available = live && live.available;
    row.querySelectorAll("[data-live]").forEach(function (el) {
      setText(el, available ? live[el.getAttribute("data-live")] : null);
    });
    row.querySelectorAll("[data-live-breaker]").forEach(function (el) {
      var state = available ? live.breaker : "unknown";
      el.className = "ui-badge ui-breaker-" + state;
      el.textContent = available ? live.breaker_label : "Unknown";
    });
    row.querySelectorAll("[data-live-bar]").forEach(function (el) {
      var percent = available ? live.headroom_percent : 0;
      el.style.width = Math.max(0, Math.min(100, percent)) + "%";
      el.classList.toggle("is-low", available && percent < 20);
    });
    row.querySelectorAll("[data-live-learned]").forEach(function (el) {
      el.hidden = !(available && live.learned);
    });
    row.querySelectorAll(".ui-cap-429").forEach(function (el) {
      el.classList.toggle("is-some", available && live.throttled > 0);
    });
    row.classList.toggle("is-open", available && live.breaker !== "closed");
  }

  function status(text, failed) {
    var el = root.querySelector("[data-live-status]");
    if (!el) return;
    el.classList.toggle("is-failed", !!failed);
    el.lastChild.textContent = " " + text;
  }

  function schedule() {
    var seconds = parseFloat(root.getAttribute("data-live-seconds")) || 3;
    // After failures, back off (up to a minute) instead of hammering a server that is not answering.
    var delay = seconds * 1000 * Math.min(20, Math.pow(2, failures));
    timer = window.setTimeout(poll, delay);
  }

  function poll() {
    timer = null;
    if (document.hidden) { schedule(); return; }
    fetch(root.getAttribute("data-live-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        root.querySelectorAll("tr[data-member-key]").forEach(function (row) {
          applyMember(row, data.members[row.getAttribute("data-member-key")]);
        });
        root.setAttribute("data-read-at", data.read_at);
        status("Live · updated " + data.read_at, false);
      })
      .catch(function () {
        failures += 1;
        status("Live updates paused · retrying", true);
      })
      .then(schedule);
  }

  // --- dialogs --------------------------------------------------------------------------------------------
  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    dialog.showModal();
    var invalid = dialog.querySelector(".has-error input, .has-error select");
    var first = invalid || dialog.querySelector("input:not([type=hidden]), select");
    if (first) {
      first.focus();
      if (invalid) invalid.scrollIntoView({ block: "center" });
    }
  }

  document.addEventListener("click", function (event) {
    if (!root) return;
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) { openDialog(opener.getAttribute("data-dialog-open")); return; }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) { closer.closest("dialog").close(); return; }
    // A click on the backdrop (the dialog element itself, outside its form) closes it.
    if (event.target.matches("dialog.ui-cap-dialog")) event.target.close();
  });

  // --- bulk enable / disable --------------------------------------------------------------------------------
  function refreshBulk() {
    var form = document.getElementById("capacity-bulk");
    if (!form) return;
    var ticked = root.querySelectorAll("input[data-bulk-member]:checked").length;
    form.querySelector("[data-bulk-count]").textContent = ticked;
    form.classList.toggle("has-selection", ticked > 0);
    form.querySelectorAll("[data-bulk-submit]").forEach(function (b) { b.disabled = ticked === 0; });
  }

  document.addEventListener("change", function (event) {
    if (root && event.target.matches("input[data-bulk-member]")) refreshBulk();
  });

  document.addEventListener("submit", function (event) {
    // A confirmation carried by the button pressed (dam-admin.js asks for one carried by the form).
    var message = event.submitter && event.submitter.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    root = document.querySelector("[data-capacity]");
    if (!root) return;
    refreshBulk();
    var refused = root.getAttribute("data-open-dialog");
    if (refused) openDialog(refused);
    schedule();
  });
})();
