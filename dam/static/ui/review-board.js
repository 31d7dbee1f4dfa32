/* Review board keyboard shortcuts: j/k move, a approve, p approve and publish, r reject (with a comment), Esc cancel. */
(function () {
  "use strict";

  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-review-item]")); }
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
    box.hidden = false;
    item.querySelector("[data-reject-confirm]").hidden = false;
    item.querySelector("[data-reject-open]").hidden = true;
    box.querySelector("textarea").required = true;
    box.querySelector("textarea").focus();
  }

  function closeReject(item) {
    var box = item.querySelector("[data-comment-box]");
    box.hidden = true;
    box.querySelector("textarea").required = false;
    item.querySelector("[data-reject-confirm]").hidden = true;
    item.querySelector("[data-reject-open]").hidden = false;
  }

  document.addEventListener("click", function (event) {
    // Which of the two approve buttons was pressed travels in the form's `publish` field.
    var approve = event.target.closest("[data-approve], [data-approve-publish]");
    if (approve) approve.form.publish.value = approve.hasAttribute("data-approve-publish") ? "1" : "";
    var open = event.target.closest("[data-reject-open]");
    if (open) { var item = open.closest("[data-review-item]"); select(item); openReject(item); return; }
    var clicked = event.target.closest("[data-review-item]");
    if (clicked && !clicked.classList.contains("is-current")) {
      items().forEach(function (el) { el.classList.toggle("is-current", el === clicked); });
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    var typing = event.target.matches("textarea, input, select");
    var item = current();
    if (!item) return;
    if (event.key === "Escape") { closeReject(item); item.focus(); return; }
    if (typing) return;
    var button;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
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
})();
