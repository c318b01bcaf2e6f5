/* The dashboard's only script: live regions, confirmations, select-all. No build step.
 *
 * A region marked data-refresh="SECONDS" (with an id) is re-fetched every SECONDS: the page
 * is fetched again, parsed with DOMParser (which never runs scripts) and the region with the
 * same id is swapped in. A fresh region without data-refresh (a job that finished) ends the
 * polling. A region the user is typing in is left alone until they are done.
 */
(function () {
  "use strict";

  function busy(region) {
    var active = document.activeElement;
    return Boolean(
      active && region.contains(active) && active.matches("input, textarea, select")
    );
  }

  function schedule(region) {
    var seconds = parseFloat(region.getAttribute("data-refresh"));
    if (!(seconds > 0)) {
      return;
    }
    window.setTimeout(function () { refresh(region); }, seconds * 1000);
  }

  function openDetails(region) {
    // Keep <details> the reader opened (a traceback) open across refreshes.
    var open = [];
    region.querySelectorAll("details").forEach(function (d, i) { if (d.open) { open.push(i); } });
    return open;
  }

  function refresh(region) {
    if (!region.isConnected) {
      return;
    }
    if (document.hidden || busy(region)) {
      schedule(region);
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("refresh answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
        if (!fresh) {
          throw new Error("the page no longer has #" + region.id);
        }
        var open = openDetails(region);
        var all = fresh.querySelectorAll("details");
        open.forEach(function (i) { if (all[i]) { all[i].open = true; } });
        region.replaceWith(fresh);
        schedule(fresh);
      })
      .catch(function () {
        region.setAttribute("data-refresh-failed", "");
        schedule(region);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh][id]").forEach(schedule);
  });

  // A form with data-confirm asks first (cancel, discard, trigger).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // A checkbox with data-select-all="NAME" ticks every checkbox named NAME in its form.
  document.addEventListener("change", function (event) {
    var box = event.target;
    var name = box.getAttribute && box.getAttribute("data-select-all");
    if (!name || !box.form) {
      return;
    }
    box.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (other) {
      other.checked = box.checked;
    });
  });
})();
