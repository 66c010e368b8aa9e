## 地图接口（issue 16）：/audit 中的记录名称

audit-action-where-org = 查询组织位置
