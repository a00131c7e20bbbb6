--- KooDrive jobs operations (issue 12: being written).
return {}
