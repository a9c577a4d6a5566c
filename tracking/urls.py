from django.urls import path

from django.http import HttpResponse

app_name = "tracking"

urlpatterns = [
    path("track/<str:token>/", lambda request, token: HttpResponse("tracker"), name="tracker"),
]
