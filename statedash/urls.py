app_name = "statedash"
urlpatterns: list = []
