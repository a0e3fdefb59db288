// Checks a form's size before it is sent: a body over the server's limits would be refused with a
// "too long" page, and what was typed could be lost. The limits and messages come from <body data-*>.
(function () {
  var data = document.body.dataset;
  var maxRequest = +data.maxRequest || 0, maxText = +data.maxText || 0, maxPhoto = +data.maxPhoto || 0;
  var encoder = new TextEncoder();

  function show(field, message) {
    var note = field.form.querySelector(".size-error");
    if (!note) {
      note = document.createElement("p");
      note.className = "flash flash-error size-error";
      note.setAttribute("role", "alert");
    }
    field.insertAdjacentElement("afterend", note);
    note.textContent = message;
    field.focus();
  }

  function problem(form) {
    var multipart = (form.enctype || "").indexOf("multipart") === 0;
    var total = 0, hasFiles = false;
    for (var i = 0; i < form.elements.length; i++) {
      var field = form.elements[i];
      if (!field.name || field.disabled) continue;
      if (field.type === "file") {
        for (var j = 0; j < field.files.length; j++) {
          hasFiles = true;
          total += field.files[j].size;
          if (maxPhoto && field.files[j].size > maxPhoto) return [field, data.photoTooLarge];
        }
        continue;
      }
      if (field.value === undefined) continue;
      // Multipart sends text as UTF-8 bytes, each field under its own limit; url-encoding sends
      // every non-ASCII byte as three characters, and only the whole body has a limit.
      var size = multipart ? encoder.encode(field.value).length : encodeURIComponent(field.value).length + field.name.length + 2;
      total += size;
      var tooLong = field.maxLength > 0 && field.value.length > field.maxLength;
      if (tooLong || (multipart && maxText && size > maxText) || (!multipart && maxRequest && total > maxRequest)) {
        return [field, data.textTooLong];
      }
    }
    if (maxRequest && total > maxRequest) return [form.querySelector("input[type=file]") || form.elements[0], hasFiles ? data.photosTooLarge : data.textTooLong];
    return null;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if ((form.method || "").toLowerCase() !== "post") return;
    var found = problem(form);
    if (found) {
      event.preventDefault();
      show(found[0], found[1]);
    }
  }, true);
})();
