"""The API's routes, one APIRouter per concern; each takes :class:`api.services.Services` by dependency."""
