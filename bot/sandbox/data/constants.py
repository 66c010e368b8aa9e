"""The fixed part of the sandbox's world (the ids, orgs, groups and users tests name), its words."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
"""The platform's local time zone: "today", local time strings and shift times use it."""

CENTER_LAT, CENTER_LON = 30.27, 120.15  # Hangzhou, where every fix is scattered
RADIUS_KM = 15.0
HISTORY_DAYS = 7  # tracks, recordings, punch cards and sign-ins exist for today and 6 days back

ROOT_ORG_ID = 103
SOLO_GROUP_ID = 1006  # a talk group with exactly one member (exercises the 2.1 single-object quirk)
TRICKY_USER_ID = 10004  # name with HTML metacharacters
NO_FIX_USER_ID = 10005  # a user who never reported a position
FIRST_USER_ID = 10001
FIRST_GROUP_ID = 1001
FIRST_DEVICE_ID = 860001
DISPATCHER_ID = 1432263210014081024  # the "creator" the platform reports for registered users

MEDIA_FILES = ("recording-zh.ogg", "recording-en.ogg", "recording-zh.mp3", "recording-en.mp3")

ROLES: tuple[tuple[int, str], ...] = (
    (1, "指挥员"),
    (2, "队长"),
    (3, "队员"),
    (4, "驾驶员"),
    (5, "医护"),
)

# (id, name, parent) — always present (the first `orgs` of them when fewer are asked for).
FIXED_ORGS: tuple[tuple[int, str, int], ...] = (
    (103, "市应急指挥中心", 0),
    (266, "消防一大队", 103),
    (267, "消防二大队", 103),
    (268, "特勤中队", 266),
    (269, "巡逻一中队", 267),
    (270, "医疗救护队", 103),
)

# (gid, name, org) — always present (the first `groups` of them when fewer are asked for).
FIXED_GROUPS: tuple[tuple[int, str, int], ...] = (
    (1001, "指挥调度组", 103),
    (1002, "消防一大队主频", 266),
    (1003, "消防二大队主频", 267),
    (1004, "特勤行动组", 268),
    (1005, "巡逻组", 269),
    (1006, "医疗救护组", 270),
)


@dataclass(frozen=True, slots=True)
class FixedUser:
    """A user present whatever the seed, so tests can rely on them."""

    id: int
    name: str
    account: str
    org_id: int
    groups: tuple[int, ...]
    current_group: int | None
    online: bool
    has_fix: bool
    priority: int
    role_id: int | None


# 张三/张珊/张山 share the initials "zs"; 张珊 and 张山 share the full pinyin "zhangshan".
FIXED_USERS: tuple[FixedUser, ...] = (
    FixedUser(10001, "张三", "zhangsan01", 266, (1001, 1002), 1002, True, True, 3, 2),
    FixedUser(10002, "张珊", "zhangshan01", 266, (1002, 1001), 1001, True, True, 5, 3),
    FixedUser(10003, "张山", "zhangshan02", 267, (1003,), 1003, False, True, 6, 3),
    FixedUser(10004, "李<b>&四", "tricky", 267, (1003, 1005), 1003, True, True, 7, 4),
    FixedUser(10005, "王五", "wangwu01", 268, (1004,), 1004, True, False, 8, 3),
    FixedUser(10006, "赵六", "zhaoliu01", 270, (1006,), 1006, True, True, 4, 5),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严武戴莫孔向汤"
)
# fmt: off
GIVEN_NAMES: tuple[str, ...] = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "建国", "建军", "志强", "志明", "文",
    "斌", "鹏", "辉", "华", "红", "玲", "飞", "宇", "浩", "俊", "凯", "峰", "晨", "欣", "婷",
    "雪", "琳", "晓东", "晓明", "海燕", "海涛", "国庆", "国强", "春梅", "丹", "萍", "燕", "亮",
    "波", "宁", "健", "鑫", "佳", "帅", "子豪", "子涵", "一鸣", "雨轩", "梓萱", "思远", "志刚",
    "永强", "金凤", "玉兰", "立新", "文博", "天宇", "振华", "德明", "家豪", "嘉怡", "慧敏",
    "建平", "红梅", "卫东", "三", "珊", "山",
)
DISTRICTS = (
    "上城", "拱墅", "西湖", "滨江", "萧山", "余杭", "临平", "钱塘", "富阳", "临安", "桐庐",
    "淳安", "建德",
)
ORG_KINDS = ("巡逻中队", "消防站", "救援分队", "执勤点", "应急分队", "派出所")
GROUP_KINDS = ("行动组", "值班组", "备勤组", "通讯组", "联络组")
STREETS = (
    "延安路", "解放路", "庆春路", "文三路", "天目山路", "莫干山路", "钱江路", "滨盛路",
    "江南大道", "古墩路", "秋涛路", "体育场路",
)
# fmt: on
SIGNIN_REMARKS = ("", "", "巡查正常", "设备检查完毕", "发现隐患已上报", "交接班", "现场勘察")
