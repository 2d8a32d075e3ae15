// Light or dark as Airflow's UI is (its choice is kept in localStorage "theme": light, dark or system).
(function () {
  function apply() {
    var chosen = null;
    try { chosen = window.localStorage.getItem("theme"); } catch (e) { chosen = null; }
    var dark = chosen === "dark" ||
      (chosen !== "light" && window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
  }
  apply();
  window.addEventListener("storage", function (e) { if (e.key === "theme") { apply(); } });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
  }
})();
