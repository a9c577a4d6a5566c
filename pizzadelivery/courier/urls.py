from django.urls import path

from pizzadelivery.courier import views

app_name = "courier"

urlpatterns = [
    path("driver/", views.home, name="home"),
    path("driver/live/", views.live, name="live"),
    path("driver/shift/", views.shift, name="shift"),
    path("driver/pick-up/", views.pick_up, name="pick-up"),
    path("driver/deliver/", views.deliver, name="deliver"),
]
