// Each figure of a page opens at full size: an image that is not a link already becomes a link to its own file.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".bd-article img").forEach(function (img) {
    if (img.closest("a")) return;
    var a = document.createElement("a");
    a.href = img.getAttribute("src");
    a.className = "nnlite-full-size";
    a.title = "open the figure at full size";
    img.parentNode.insertBefore(a, img);
    a.appendChild(img);
  });
});
