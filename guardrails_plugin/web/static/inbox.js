// The inbox's only script (served from /static: the CSP allows no inline script).
// 1. The pending list follows the server's event stream and re-reads its table on change.
// 2. The edit form refuses to submit text that is not a JSON object.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    var refresh = function () {
      fetch(live.getAttribute("data-live"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { live.innerHTML = html; } });
    };
    var source = new EventSource("/api/v1/stream");
    source.addEventListener("request", refresh);
  }
  document.querySelectorAll("textarea[data-json-object]").forEach(function (area) {
    var check = function () {
      var message = "";
      try {
        var value = JSON.parse(area.value);
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          message = "The arguments must be a JSON object, like {\"to\": \"ops@example.org\"}.";
        }
      } catch (e) {
        message = "Not valid JSON: " + e.message;
      }
      area.setCustomValidity(message);
    };
    area.addEventListener("input", check);
    check();
  });
});
