app_name = "threats"

urlpatterns: list = []
