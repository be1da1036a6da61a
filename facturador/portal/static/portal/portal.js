// The portal's small behaviours, as listeners (the Content-Security-Policy allows no inline scripts).
document.addEventListener("DOMContentLoaded", function () {
  // Régimen fiscal -> the usos del CFDI that regime allows (the server filters both by the RFC's type).
  var regimen = document.querySelector("select[data-usos-url]"), uso = document.getElementById("id_uso_cfdi");
  if (regimen && uso) {
    regimen.addEventListener("change", function () {
      var chosen = uso.value;  // kept when the new regime allows it
      htmx.ajax("GET", regimen.dataset.usosUrl + "?regimen=" + encodeURIComponent(regimen.value),
                {target: "#id_uso_cfdi", swap: "innerHTML"}).then(function () {
        if (chosen && uso.querySelector('option[value="' + chosen + '"]')) { uso.value = chosen; }
      });
    });
  }
});
