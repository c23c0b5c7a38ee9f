"""URLs of the benchmark server: the site's URLs plus POST /bench/hash/.

Mounted only through tests.bench.settings, never in production.
"""

from django.urls import path

from twofa_site.urls import urlpatterns as site_urlpatterns

from . import views

urlpatterns = [
    *site_urlpatterns,
    path("bench/hash/", views.hash_check, name="bench_hash"),
]
