// Small behaviours of the shell, as listeners (the Content-Security-Policy allows no inline handlers).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-toggle-nav]").forEach(function (button) {
    button.addEventListener("click", function () { document.body.classList.toggle("nav-open"); });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
});
