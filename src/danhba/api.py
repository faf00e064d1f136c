from ninja import NinjaAPI

api = NinjaAPI(title="danhba API", version="1")
