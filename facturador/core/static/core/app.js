// Small behaviours of the shell, as listeners (the Content-Security-Policy allows no inline handlers).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-toggle-nav]").forEach(function (button) {
    button.addEventListener("click", function () { document.body.classList.toggle("nav-open"); });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
});

// A live job row's actions follow its state: an element marked data-job-actions="<job id>" data-when="pending running"
// is shown only while the job's progress (polled by htmx, #job-<id>) is in one of those states.
document.addEventListener("htmx:afterSwap", function () {
  document.querySelectorAll("[data-job-actions]").forEach(function (el) {
    var job = document.getElementById("job-" + el.dataset.jobActions);
    if (job) { el.hidden = (el.dataset.when || "").split(" ").indexOf(job.dataset.status) < 0; }
  });
});
