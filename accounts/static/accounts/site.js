/* Small progressive enhancements; every page works without this file.
 *
 * - "Send a new code": the server renders the button disabled with the wait in words
 *   (data-cooldown="N"); this counts the wait down and enables the button when it is over.
 * - A code the server refused stays in the field; it is selected, so typing replaces it.
 *
 * Loaded with <script defer>; no inline script or style, so a strict CSP can apply.
 */
(function () {
  "use strict";

  function resendCountdown() {
    var button = document.querySelector("button[data-cooldown]");
    var status = document.getElementById("resend-status");
    var seconds = button ? parseInt(button.getAttribute("data-cooldown"), 10) : NaN;
    if (!status || !(seconds > 0)) {
      return;
    }
    // The server rounded the wait up and counted from before the page was sent, so a
    // countdown that starts now ends no earlier than the server's cooldown.
    var deadline = performance.now() + seconds * 1000;

    function tick() {
      var left = Math.ceil((deadline - performance.now()) / 1000);
      if (left <= 0) {
        button.disabled = false;
        status.textContent = "You can request a new code now.";
        return;
      }
      status.textContent =
        "You can request a new code in " + left + (left === 1 ? " second." : " seconds.");
      // Wake up just after the shown number changes, not on a drifting 1 s interval.
      window.setTimeout(tick, Math.max(0, deadline - performance.now() - (left - 1) * 1000) + 20);
    }

    tick();
  }

  function selectRefusedCode() {
    var field = document.querySelector('input[autocomplete="one-time-code"][aria-invalid="true"]');
    if (field) {
      field.focus(); // the field has autofocus anyway
      field.select();
    }
  }

  resendCountdown();
  selectRefusedCode();
})();
