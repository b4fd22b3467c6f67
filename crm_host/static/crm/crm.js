// htmx requests carry the CSRF token the page was rendered with.
document.addEventListener("htmx:configRequest", function (evt) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { evt.detail.headers["X-CSRFToken"] = meta.content; }
});
