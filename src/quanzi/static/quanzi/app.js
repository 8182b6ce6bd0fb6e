/* Quanzi: small page behaviours shared by every page (no inline scripts: CSP script-src 'self'). */
(function () {
  "use strict";

  // Copy-to-clipboard buttons: <button data-copy="#input-id" data-copied="Copied!">
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || label;
      button.classList.add("copied");
      setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        source.select();
        document.execCommand("copy");
        done();
      });
    } else {
      source.select();
      document.execCommand("copy");
      done();
    }
  });

  // Forms that ask first: <form data-confirm="Are you sure?">
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Read-only invite links select themselves on focus, handy on phones.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[readonly]")) event.target.select();
  });
})();
